"""``vault-verify journal DIR`` on another machine: a journal export made by a real server, replayed by the verifier
installed alone in a fresh venv (asn1crypto + cryptography, no vault), and the same verdict as ``vault journal
verify DIR`` (one implementation, issue 22)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.test_journal_replay import exported, vault_cli  # noqa: F401  (exported: a fixture, a real server's export)
from tests.verifier_venv import run_in, verifier_venv
from vault_verify.tiles import bundle_entries, unbundle_entries

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def machine(tmp_path_factory, exported):  # noqa: F811
    """Another machine: the export, the pinned key and the early checkpoint copied there, and the verifier's venv."""
    home = tmp_path_factory.mktemp("auditor")
    shutil.copytree(exported["dir"], home / "export")
    (home / "early.checkpoint").write_bytes(exported["early"])
    (home / "journal.vkey").write_text(exported["vkey"] + "\n")
    return home, verifier_venv(tmp_path_factory) / "bin" / "python"


def test_vault_is_not_importable_there(machine):
    home, python = machine
    done = run_in(home, str(python), "-c", "import vault")
    assert done.returncode == 1 and "ModuleNotFoundError: No module named 'vault'" in done.stderr


def test_a_real_export_verifies_with_the_standalone_verifier(machine, exported):  # noqa: F811
    home, python = machine
    done = run_in(home, str(python), "-m", "vault_verify", "journal", "export", "--vkey", "journal.vkey",
                  "--tsa-roots", "export/tsa-roots.pem", "--trusted-checkpoint", "early.checkpoint", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["entries"] >= 300 and report["anchors"] >= 2 and not report["problems"]
    passed = {check["name"] for check in report["checks"] if check["status"] == "ok"}
    assert {"checkpoint", "entries", "tiles", "signed root", "anchors", "trusted checkpoint"} <= passed, passed

    text = run_in(home, str(python.parent / "vault-verify"), "journal", "export")  # the key found in the export
    assert text.returncode == 0 and text.stdout.startswith(f"journal OK: {report['entries']} entries"), text.stdout
    assert "using the verifier key found in the export itself" in text.stderr


def test_a_tampered_export_fails_naming_the_problem_as_vault_journal_verify_does(machine, exported):  # noqa: F811
    home, python = machine
    tampered = home / "tampered"
    shutil.copytree(home / "export", tampered)
    bundle = tampered / "tile/entries/000"
    bundle.write_bytes(bundle.read_bytes().replace(b'"action":"deposit"', b'"action":"depoXit"', 1))

    done = run_in(home, str(python), "-m", "vault_verify", "journal", "tampered", "--vkey", "journal.vkey")
    assert done.returncode == 1, done.stdout + done.stderr
    failed = next(line for line in done.stderr.splitlines() if line.startswith("journal FAILED at index "))
    index = int(failed.removeprefix("journal FAILED at index ").rstrip(":"))
    assert index >= 1 and "  - tiles: tile/0/000 differs from the hashes recomputed from the entries" in done.stderr
    assert "  - signed root: the entries do not hash to the signed root" in done.stderr

    entries = unbundle_entries(bundle.read_bytes())
    entries[index] = entries[index].replace(b'"action":"depoXit"', b'"action": "deposit"')  # not RFC 8785 form
    bundle.write_bytes(bundle_entries(entries))
    named = run_in(home, str(python), "-m", "vault_verify", "journal", "tampered", "--vkey", "journal.vkey")
    assert named.returncode == 1 and f"journal FAILED at index {index}:" in named.stderr
    assert f"  - entry {index}: " in named.stderr, named.stderr

    standalone = run_in(home, str(python), "-m", "vault_verify", "journal", "tampered", "--vkey", "journal.vkey",
                        "--json")
    server_side = vault_cli("journal", "verify", str(tampered), "--vkey", exported["vkey"], "--json")
    assert server_side.returncode == standalone.returncode == 1
    assert json.loads(server_side.stdout) == json.loads(standalone.stdout)

    missing = run_in(home, str(python), "-m", "vault_verify", "journal", "nowhere")
    assert missing.returncode == 1 and missing.stderr.strip() == "vault-verify: nowhere: not a directory"
