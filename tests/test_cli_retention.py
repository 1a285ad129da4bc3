"""``vault policies|holds|disposal|certificate`` against a live server (and offline where they work offline)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import POLICIES
from tests.server_process import ServerProcess
from tests.test_cli import vault

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("cli-retention") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def keys(server):
    def issue(role):
        holder = () if role == "depositor" else ("--holder", f"{role}@example.org")
        done = vault("keys", "create", "--role", role, "--tenant", "acme", *holder, "--json", url=server.url,
                     key=server.admin_key)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["key"]

    return {"depositor": issue("depositor"), "archivist": issue("archivist")}


def test_policies_check_list_show(server, keys, tmp_path):
    checked = vault("policies", "check", str(POLICIES))
    assert checked.returncode == 0 and "lre-proof@2" in checked.stdout
    (tmp_path / "short.toml").write_text('id = "short"\nversion = 1\ntitle = "t"\nlegal_basis = "x"\n'
                                         'duration = "P9Y"\n')
    bad = vault("policies", "check", str(tmp_path))
    assert bad.returncode == 1 and "short.toml: field 'duration' is P9Y" in bad.stderr
    listed = vault("policies", "list", url=server.url, key=keys["depositor"])
    assert listed.returncode == 0 and "lre-proof@2  (in force)" in listed.stdout
    shown = json.loads(vault("policies", "show", "consent-record", "--json", url=server.url,
                             key=keys["depositor"]).stdout)
    assert shown["final_action"] == "destroy" and "GDPR art. 7(1)" in shown["legal_basis"]


def test_holds_and_disposal_refusals(server, keys, tmp_path):
    proof = tmp_path / "proof.pdf"
    proof.write_bytes(b"%PDF-1.7 under retention\n")
    receipt = json.loads(vault("deposit", str(proof), "--case-ref", "CLI-H", "--policy", "lre-proof", "--json",
                               url=server.url, key=keys["depositor"]).stdout)
    created = vault("holds", "create", "--case-ref", "CLI-H", "--reason", "dispute", "--reference", "RG 26/1",
                    "--json", url=server.url, key=keys["archivist"])
    assert created.returncode == 0, created.stderr
    hold = json.loads(created.stdout)
    listed = vault("holds", "list", url=server.url, key=keys["archivist"])
    assert hold["id"] in listed.stdout and "active" in listed.stdout
    due = vault("disposal", "due", url=server.url, key=keys["archivist"])
    assert due.returncode == 0 and "destroy: 0" in due.stdout
    nothing = vault("disposal", "propose", url=server.url, key=keys["archivist"])
    assert nothing.returncode == 1 and "Nothing to destroy" in nothing.stderr
    early = vault("disposal", "propose", "--object", receipt["id"], url=server.url, key=keys["archivist"])
    assert early.returncode == 1 and "not be destroyed now" in early.stderr
    released = vault("holds", "release", hold["id"], url=server.url, key=keys["archivist"])
    assert released.returncode == 0 and "released" in released.stdout
    denied = vault("holds", "create", "--case-ref", "CLI-H", "--reason", "x", "--reference", "y",
                   url=server.url, key=keys["depositor"])
    assert denied.returncode == 1


def test_certificate_verify_offline(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vault.retention.certificate import public_key_text, sign_certificate

    key = Ed25519PrivateKey.generate()
    signed = sign_certificate({"batch": "b1", "objects": [], "proposal": {"journal_index": 1},
                               "approval": {"journal_index": 2}, "execution": {"journal_index": 3}}, key)
    path = tmp_path / "certificate.json"
    path.write_text(json.dumps(signed))
    public = public_key_text(key.public_key())
    ok = vault("certificate", "verify", str(path), "--key", public)
    assert ok.returncode == 0 and "VALID (pinned key)" in ok.stdout
    unpinned = vault("certificate", "verify", str(path))
    assert unpinned.returncode == 0 and "pass --key" in unpinned.stdout
    other = public_key_text(Ed25519PrivateKey.generate().public_key())
    wrong = vault("certificate", "verify", str(path), "--key", other)
    assert wrong.returncode == 1 and "another key" in wrong.stdout
    signed["certificate"]["batch"] = "b2"
    path.write_text(json.dumps(signed))
    forged = vault("certificate", "verify", str(path), "--key", public)
    assert forged.returncode == 1 and "does not match" in forged.stdout


def test_certificate_verify_pdf_offline(tmp_path):
    from datetime import datetime, timezone

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vault.retention.certificate import sign_certificate
    from vault.retention.pdf import certificate_pdf, load_or_create_pdf_identity

    cert, key = load_or_create_pdf_identity(tmp_path, "vault.test", datetime.now(timezone.utc))
    step = {"by": "k", "at": "2036-11-29T09:00:00Z", "journal_index": 1}
    signed = sign_certificate({"batch": "b1", "tenant": "acme", "proposal": step, "approval": step,
                               "execution": step, "objects": []}, Ed25519PrivateKey.generate())
    pdf = tmp_path / "destruction.pdf"
    pdf.write_bytes(certificate_pdf(signed, cert, key))
    ok = vault("certificate", "verify", str(pdf), "--cert", str(tmp_path / "archive-signing.pem"))
    assert ok.returncode == 0 and "PDF certificate VALID" in ok.stdout, ok.stdout + ok.stderr
    (tmp_path / "other").mkdir()
    load_or_create_pdf_identity(tmp_path / "other", "vault.other", datetime.now(timezone.utc))
    wrong = vault("certificate", "verify", str(pdf), "--cert", str(tmp_path / "other" / "archive-signing.pem"))
    assert wrong.returncode == 1 and "other than the archive's" in wrong.stdout
    missing = vault("certificate", "verify", str(pdf))
    assert missing.returncode == 1 and "--cert" in missing.stderr
