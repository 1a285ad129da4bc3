"""``vault-verify package`` / ``vault verify-package``: a whole export package checked offline, from its ZIP.

Packages come from the API. A valid one verifies (with the package's own roots and key, and pinned); one byte
changed anywhere is named by the BagIt checks; a forger who recomputes every manifest is named by the deeper
checks (digests, evidence records, inclusion and consistency proofs, signatures, the anchor token); wrong pins
fail; and the verifier installed alone in a fresh venv verifies a copy of the package (issue 9).
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import shutil
import tracemalloc
import zipfile
from pathlib import Path
from typing import Callable

import pytest
from lxml import etree
from signxml import SignatureConstructionMethod, XMLSigner
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.pki import make_ca, make_leaf
from tests.verifier_venv import run_in, verifier_venv
from vault.api.app import create_app
from vault.app import Vault
from vault.cli.main import main as vault_main
from vault_verify.cli import main as verify_main
from vault_verify.note import Signer, sign_note
from vault_verify.package import verify_package
from vault_verify.tokens import load_pem_roots

Change = Callable[[bytes], bytes | None]


# ---------------------------------------------------------------------------------------------------------------
# Helpers: make a package, and change one of its members (optionally re-bagging it as a careful forger would)


def rewrite_package(source: Path, target: Path, changes: dict[str, Change], *, rebag: bool = False) -> None:
    """Copy the package ZIP ``source`` to ``target`` with members changed: path inside the bag → function of the
    old bytes (None for a new member) returning the new bytes, or None to drop the member. With ``rebag`` the
    payload manifests, ``Payload-Oxum`` and the tag manifests are recomputed over the changed files."""
    with zipfile.ZipFile(source) as archive:
        top = archive.namelist()[0].split("/")[0]
        files = {i.filename[len(top) + 1:]: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    for path, change in changes.items():
        new = change(files.get(path))
        if new is None:
            files.pop(path, None)
        else:
            files[path] = new
    if rebag:
        payload = sorted(p for p in files if p.startswith("data/"))
        for algorithm in ("sha256", "sha512"):
            files[f"manifest-{algorithm}.txt"] = "".join(
                f"{hashlib.new(algorithm, files[p]).hexdigest()}  {p}\n" for p in payload).encode()
        oxum = f"Payload-Oxum: {sum(len(files[p]) for p in payload)}.{len(payload)}"
        files["bag-info.txt"] = re.sub(rb"Payload-Oxum: [0-9.]+", oxum.encode(), files["bag-info.txt"])
        tags = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"]
        for algorithm in ("sha256", "sha512"):
            files[f"tagmanifest-{algorithm}.txt"] = "".join(
                f"{hashlib.new(algorithm, files[p]).hexdigest()}  {p}\n" for p in tags).encode()
    with zipfile.ZipFile(target, "w") as out:
        for path, data in files.items():
            out.writestr(f"{top}/{path}", data)


def flip(at: int) -> Change:
    def change(data: bytes) -> bytes:
        changed = bytearray(data)
        changed[at] ^= 0x01
        return bytes(changed)
    return change


def replace(old: bytes | str, new: bytes | str) -> Change:
    old, new = (v.encode() if isinstance(v, str) else v for v in (old, new))

    def change(data: bytes) -> bytes:
        assert old in data, (old, data[:200])
        return data.replace(old, new, 1)
    return change


def other_hex(digest: str) -> str:
    return digest[:-1] + ("0" if digest[-1] != "0" else "1")


def signed_xml(case: str) -> bytes:
    ca = make_ca("Package Test Root CA")
    leaf = make_leaf(ca, "Package Test Seal")
    xml = f'<Evidence xmlns="http://uri.etsi.org/19522/v1#"><EvidenceIdentifier>{case}</EvidenceIdentifier></Evidence>'
    signer = XMLSigner(method=SignatureConstructionMethod.enveloped, signature_algorithm="ecdsa-sha256")
    return etree.tostring(signer.sign(etree.fromstring(xml), key=leaf.key, cert=[leaf.cert, ca.cert]))


def make_package(vault: Vault, depositor: Api, case: str, path: Path) -> dict:
    """Three plain deposits and a signed XML (with a validation report), sealed and anchored; then one more
    deposit left seal-pending, a second anchor; then the case's package, written to ``path``."""
    ids = [depositor.deposit(f"proof {n} of {case}".encode(), case_ref=case).json()["id"] for n in range(3)]
    signed = depositor.deposit(signed_xml(case), filename="evidence.xml", media_type="application/xml",
                               case_ref=case)
    assert signed.status_code == 201, signed.text
    ids.append(signed.json()["id"])
    vault.seal_scheduler.seal_all_pending()
    vault.checkpointer.checkpoint_now()
    vault.anchorer.anchor_now(force=True)
    ids.append(depositor.deposit(f"pending proof of {case}".encode(), case_ref=case).json()["id"])
    vault.checkpointer.checkpoint_now()
    vault.anchorer.anchor_now(force=True)
    response = depositor.get(f"/v1/cases/{case}/package")
    assert response.status_code == 200, response.text
    path.write_bytes(response.content)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        top = archive.namelist()[0].split("/")[0]
        manifest = json.loads(archive.read(f"{top}/data/package.json"))
    return {"path": path, "ids": ids, "manifest": manifest, "roots": vault.tsa_roots_pem(),
            "vkey": vault.checkpointer.signer.verifier.vkey()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One package for the tamper matrices (SQLite; the API-level test below runs on both databases)."""
    home = tmp_path_factory.mktemp("package")
    vault = Vault.open(make_settings(home, f"sqlite:///{home / 'data' / 'vault.db'}"),
                       sweep_in_background=False, background_jobs=False)
    try:
        with TestClient(create_app(vault)) as http:
            admin = Api(http, ADMIN_KEY)
            depositor = admin.as_key(admin.new_key("depositor", "acme"))
            yield make_package(vault, depositor, "VP-1", home / "package.zip")
    finally:
        vault.close()


def entry_of(built: dict, n: int = 0) -> dict:
    return built["manifest"]["objects"][n]


# ---------------------------------------------------------------------------------------------------------------
# A valid package, and pins


def test_a_package_from_the_api_verifies_and_says_what_it_proves(vault, depositor, tmp_path, capsys):
    made = make_package(vault, depositor, "VP-API", tmp_path / "p.zip")
    verdict = verify_package(made["path"])
    assert verdict.ok, verdict.first_failure
    assert [o.id for o in verdict.objects] == made["ids"] and all(o.ok for o in verdict.objects)
    sealed, pending = verdict.objects[0], verdict.objects[-1]
    assert any(n.startswith("sealed: the content existed by ") for n in sealed.notes)
    assert any("existed by" in n and "(journal anchor)" in n for n in sealed.notes)
    assert any(n.startswith("not sealed: existence time not proven") for n in pending.notes)
    assert [c.name for c in pending.checks if c.name.startswith("evidence record")] == []
    assert made["manifest"]["objects"][3]["validation_report"] and made["manifest"]["objects"][-1]["seal"] == "pending"
    assert any("TSA roots taken from the package" in n for n in verdict.notes)
    assert any("journal key taken from the package" in n for n in verdict.notes)
    assert any(re.match(r"journal entries 0…\d+ existed by ", n) for n in verdict.notes)
    names = [c.name for c in verdict.journal]
    assert "inclusion proofs" in names and "anchor token journal/anchor.tsr" in names
    assert any(n.startswith("consistency journal/anchor.checkpoint → journal/checkpoint") for n in names)
    json.dumps(verdict.as_dict())

    pinned = verify_package(made["path"], tsa_roots=load_pem_roots(made["roots"]), journal_key=made["vkey"])
    assert pinned.ok, pinned.first_failure
    assert not any("taken from the package" in n for n in pinned.notes)

    (tmp_path / "roots.pem").write_bytes(made["roots"])
    assert vault_main(["verify-package", str(made["path"]), "--tsa-roots", str(tmp_path / "roots.pem"),
                       "--journal-key", made["vkey"]]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("VALID") and out.count("OK   object") == len(made["ids"])
    assert f"OK   object   {made['ids'][-1]}  not sealed: existence time not proven" in out


def test_wrong_pins_fail(built):
    other = Signer.generate("vault.local/journal").verifier.vkey()
    verdict = verify_package(built["path"], journal_key=other)
    assert not verdict.ok
    failed = [c.name for c in verdict.journal if not c.ok]
    assert failed[0] == "journal key journal/vkey = the pinned key"
    assert "checkpoint journal/checkpoint signed by vault.local/journal" in failed
    assert "anchor checkpoint journal/anchor.checkpoint signed by vault.local/journal" in failed

    stranger = make_ca("Not The TSA Root")
    verdict = verify_package(built["path"], tsa_roots=[stranger.cert])
    assert not verdict.ok and any("differs from the TSA roots given" in n for n in verdict.notes)
    anchor = next(c for c in verdict.journal if c.name == "anchor token journal/anchor.tsr")
    assert not anchor.ok and "does not chain to a trusted root" in anchor.detail
    record = next(c for c in verdict.objects[0].checks if c.name.startswith("evidence record"))
    assert not record.ok and "does not chain to a trusted root" in record.detail
    assert verdict.objects[-1].ok  # the seal-pending object has no token to distrust


def test_a_forger_who_re_signs_the_journal_passes_only_without_a_pin_and_never_past_the_anchor(built, tmp_path):
    forger = Signer.generate("vault.local/journal")

    def resign(note: bytes) -> bytes:
        return sign_note(note[:note.rindex(b"\n\n") + 1], forger)
    target = tmp_path / "forged.zip"
    rewrite_package(built["path"], target, {"data/journal/vkey": lambda _: forger.verifier.vkey().encode() + b"\n",
                                            "data/journal/checkpoint": resign,
                                            "data/journal/anchor.checkpoint": resign}, rebag=True)
    verdict = verify_package(target)
    assert verdict.first_failure.name == "anchor token journal/anchor.tsr"
    assert "SHA-256(journal/anchor.checkpoint ‖ journal/anchor-previous.tsr) ≠ the token's message imprint" in \
        verdict.first_failure.detail
    pinned = verify_package(target, journal_key=built["vkey"])
    assert pinned.first_failure.name == "journal key journal/vkey = the pinned key"


# ---------------------------------------------------------------------------------------------------------------
# One byte changed anywhere: named by the bag checks


def _content(built):
    return "data/" + entry_of(built)["content"]


BAG_MATRIX: dict[str, Callable[[dict], str]] = {
    "content": _content,
    "metadata.json": lambda b: "data/" + entry_of(b)["metadata"],
    "package.json": lambda b: "data/package.json",
    "evidence-record.ers": lambda b: "data/" + entry_of(b)["evidence_record"],
    "validation-report.json": lambda b: "data/" + entry_of(b, 3)["validation_report"],
    "entries.jsonl": lambda b: "data/journal/entries.jsonl",
    "proofs.json": lambda b: "data/journal/proofs.json",
    "checkpoint": lambda b: "data/journal/checkpoint",
    "vkey": lambda b: "data/journal/vkey",
    "anchor.checkpoint": lambda b: "data/journal/anchor.checkpoint",
    "anchor.tsr": lambda b: "data/journal/anchor.tsr",
    "anchor-previous.tsr": lambda b: "data/journal/anchor-previous.tsr",
    "tsa-roots.pem": lambda b: "data/certificates/tsa-roots.pem",
    "archive-key.txt": lambda b: "data/certificates/archive-key.txt",
    "bagit.txt": lambda b: "bagit.txt",
    "bag-info.txt": lambda b: "bag-info.txt",
    "manifest-sha256.txt": lambda b: "manifest-sha256.txt",
    "manifest-sha512.txt": lambda b: "manifest-sha512.txt",
    "tagmanifest-sha256.txt": lambda b: "tagmanifest-sha256.txt",
    "tagmanifest-sha512.txt": lambda b: "tagmanifest-sha512.txt",
}


@pytest.mark.parametrize("member", BAG_MATRIX)
@pytest.mark.parametrize("where", [0, -2])
def test_one_byte_changed_anywhere_is_named(built, tmp_path, member, where):
    path = BAG_MATRIX[member](built)
    rewrite_package(built["path"], tmp_path / "t.zip", {path: flip(where)})
    verdict = verify_package(tmp_path / "t.zip")
    failure = verdict.first_failure
    assert not verdict.ok and failure is not None
    assert path in failure.name or path in failure.detail, failure
    if path.startswith("data/"):
        assert failure.name == f"bag fixity {path} (sha256)", failure
    elif member != "bagit.txt":  # there, the declaration itself is read (and found wrong) first
        assert failure.name.startswith(("tag fixity ", "tag completeness ")), failure


def test_damage_inside_the_zip_and_incomplete_bags_are_named(built, tmp_path):
    raw = bytearray(built["path"].read_bytes())
    content = entry_of(built)["content"]
    at = bytes(raw).index(b"proof 0 of VP-1")
    raw[at] ^= 0x01
    (tmp_path / "crc.zip").write_bytes(bytes(raw))
    failure = verify_package(tmp_path / "crc.zip").first_failure
    assert failure.name == f"zip member data/{content}" and "CRC" in failure.detail, failure

    rewrite_package(built["path"], tmp_path / "gone.zip", {f"data/{content}": lambda _: None})
    failure = verify_package(tmp_path / "gone.zip").first_failure
    assert failure.name == "bag completeness manifest-sha256.txt" and f"data/{content}" in failure.detail

    rewrite_package(built["path"], tmp_path / "extra.zip", {"data/objects/planted": lambda _: b"x"})
    failure = verify_package(tmp_path / "extra.zip").first_failure
    assert failure.name == "bag completeness manifest-sha256.txt" and "not listed: data/objects/planted" in \
        failure.detail

    rewrite_package(built["path"], tmp_path / "oxum.zip",
                    {"bag-info.txt": replace("Payload-Oxum: ", "Payload-Oxum: 1")})
    verdict = verify_package(tmp_path / "oxum.zip")
    assert any(c.name == "bag-info.txt Payload-Oxum" and not c.ok for c in verdict.bag)

    (tmp_path / "not.zip").write_bytes(b"PK but not a zip")
    assert verify_package(tmp_path / "not.zip").first_failure.name == "zip"


# ---------------------------------------------------------------------------------------------------------------
# The forger recomputes every manifest: the deeper checks name what was changed


def _rebag_cases(built: dict) -> dict[str, tuple[str, Change, str, str]]:
    """case → (member, change, expected first failing check name (prefix), text expected in its detail)."""
    first, pending = entry_of(built), entry_of(built, -1)
    sha, seq = first["sha256"], first["deposit_journal_index"]
    ers = "data/" + first["evidence_record"]
    return {
        "content": ("data/" + first["content"], flip(0), f"content {first['content']} = package.json",
                    "sha256 of the content is"),
        "pending content": ("data/" + pending["content"], flip(0), f"content {pending['content']} = package.json",
                            "sha256 of the content is"),
        "metadata sha256": ("data/" + first["metadata"], replace(sha, other_hex(sha)),
                            f"metadata {first['metadata']} = package.json", f"sha256 is {other_hex(sha)}"),
        "metadata deposited_at": ("data/" + first["metadata"], lambda d: re.sub(
            rb'("deposited_at": "\d{4}-\d\d-\d\dT\d\d:\d\d:)(\d)', lambda m: m.group(1) + (
                b"1" if m.group(2) != b"1" else b"2"), d), f"metadata {first['metadata']} = deposit entry {seq}",
            "deposited_at is"),
        "package.json sha256": ("data/package.json", replace(sha, other_hex(sha)),
                                f"content {first['content']} = package.json", f"package.json says {other_hex(sha)}"),
        "evidence record signature": (ers, flip(-1), f"evidence record {first['evidence_record']}",
                                      "TSA signature does not verify"),
        "evidence record hash tree": (ers, replace(bytes.fromhex(sha), bytes.fromhex(other_hex(sha))),
                                      f"evidence record {first['evidence_record']}", "covers the data"),
        "entries.jsonl": ("data/journal/entries.jsonl", replace(sha, other_hex(sha)), f"inclusion of entry {seq}",
                          "journal/entries.jsonl line"),
        "proofs.json inclusion": ("data/journal/proofs.json", lambda d: re.sub(
            rb'("inclusion": \{\s*"\d+": \[\s*")(.)', lambda m: m.group(1) + (b"A" if m.group(2) != b"A" else b"B"),
            d), "inclusion of entry", "journal/proofs.json does not lead to the root of journal/checkpoint"),
        "proofs.json consistency": ("data/journal/proofs.json", lambda d: re.sub(
            rb'("consistency": \[\s*")(.)', lambda m: m.group(1) + (b"A" if m.group(2) != b"A" else b"B"), d),
            "consistency journal/anchor.checkpoint → journal/checkpoint", "consistency proof in journal/proofs.json"),
        "checkpoint": ("data/journal/checkpoint", lambda d: re.sub(rb"\n(\d+)\n", lambda m: b"\n%d\n" % (
            int(m.group(1)) + 1), d, count=1), "checkpoint journal/checkpoint signed by", "invalid signature"),
        "anchor.checkpoint": ("data/journal/anchor.checkpoint", flip(0), "anchor checkpoint journal/anchor.checkpoint",
                              "invalid signature"),
        "anchor.tsr": ("data/journal/anchor.tsr", flip(-1), "anchor token journal/anchor.tsr",
                       "TSA signature does not verify"),
        "anchor-previous.tsr": ("data/journal/anchor-previous.tsr", flip(-1), "anchor token journal/anchor.tsr",
                                "journal/anchor-previous.tsr) ≠ the token's message imprint"),
        "vkey": ("data/journal/vkey", flip(0), "journal key journal/vkey", "does not match its name and key"),
        "no evidence record": ("data/package.json", replace(f'"evidence_record": "{first["evidence_record"]}"',
                                                            '"evidence_record": null'),
                               f"evidence record of {first['id']}", "does not say the seal is pending"),
    }


REBAG = ["content", "pending content", "metadata sha256", "metadata deposited_at", "package.json sha256",
         "evidence record signature", "evidence record hash tree", "entries.jsonl", "proofs.json inclusion",
         "proofs.json consistency", "checkpoint", "anchor.checkpoint", "anchor.tsr", "anchor-previous.tsr", "vkey",
         "no evidence record"]


@pytest.mark.parametrize("case", REBAG)
def test_a_forger_who_recomputes_the_manifests_is_caught_by_the_deeper_checks(built, tmp_path, case):
    member, change, name, detail = _rebag_cases(built)[case]
    rewrite_package(built["path"], tmp_path / "t.zip", {member: change}, rebag=True)
    verdict = verify_package(tmp_path / "t.zip")
    assert all(c.ok for c in verdict.bag), [c for c in verdict.bag if not c.ok]  # the bag itself is consistent
    failure = verdict.first_failure
    assert failure is not None and failure.name.startswith(name) and detail in failure.detail, failure
    if case == "content":  # every deeper check that sees the content says so, not only the first
        failed = {c.name.split(" ")[0] for c in verdict.objects[0].checks if not c.ok}
        assert failed == {"content", "evidence", "deposit", "metadata"}, verdict.objects[0].checks


def test_any_bit_of_a_proof_changed_and_rebagged_is_caught(built, tmp_path):
    """Random single-bit changes (seeded) anywhere in the files a proof covers — contents, evidence records,
    journal entries, checkpoints, the journal key, the anchor tokens — each re-bagged: every one fails, none
    raises. (Not covered by any proof, hence not here: metadata.json's descriptive fields, package.json's,
    proofs.json's key names, the certificates folder when roots are not pinned.)"""
    with zipfile.ZipFile(built["path"]) as archive:
        top = archive.namelist()[0].split("/")[0]
        sizes = {i.filename[len(top) + 1:]: i.file_size for i in archive.infolist()}
    members = sorted(m for m in sizes if m.endswith((".ers", ".tsr", "checkpoint", "entries.jsonl", "vkey",
                                                     "content")))
    generator = random.Random(9)
    undetected = []
    for _ in range(150):
        member = generator.choice(members)
        at, bit = generator.randrange(sizes[member]), 1 << generator.randrange(8)

        def change(data: bytes, at=at, bit=bit) -> bytes:
            return data[:at] + bytes([data[at] ^ bit]) + data[at + 1:]
        rewrite_package(built["path"], tmp_path / "t.zip", {member: change}, rebag=True)
        if verify_package(tmp_path / "t.zip").ok:
            undetected.append((member, at, bit))
    assert undetected == []


def test_content_dropped_as_if_destroyed_needs_a_journaled_destruction(built, tmp_path):
    first = entry_of(built)
    rewrite_package(built["path"], tmp_path / "t.zip", {
        "data/" + first["content"]: lambda _: None,
        "data/package.json": lambda d: d.replace(f'"content": "{first["content"]}"'.encode(), b'"content": null')
        .replace(b'"status": "active"', b'"status": "destroyed"', 1)}, rebag=True)
    verdict = verify_package(tmp_path / "t.zip")
    failure = verdict.first_failure
    assert failure.name == f"destruction of {first['id']} journaled" and "no proven 'destruction_done'" in \
        failure.detail, failure
    record = next(c for c in verdict.objects[0].checks if c.name.startswith("evidence record"))
    assert record.ok  # checked against the stated digests: the record still covers them


def test_a_big_content_file_is_streamed_not_loaded(built, tmp_path):
    big = 64 << 20
    first = entry_of(built)
    rewrite_package(built["path"], tmp_path / "big.zip", {"data/" + first["content"]: lambda _: bytes(big)},
                    rebag=True)
    tracemalloc.start()
    try:
        verdict = verify_package(tmp_path / "big.zip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert verdict.first_failure.name == f"content {first['content']} = package.json"
    assert f"size of the content is {big}" in verdict.first_failure.detail
    assert peak < 8 << 20, f"peak {peak / 1e6:.1f} MB for a {big >> 20} MiB content file"


def test_the_command_line(built, tmp_path, capsys):
    assert verify_main(["package", str(built["path"])]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("OK   bag ") and out.strip().endswith("VALID")
    assert verify_main(["package", str(built["path"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    rewrite_package(built["path"], tmp_path / "t.zip", {"data/journal/anchor.tsr": flip(-1)}, rebag=True)
    assert verify_main(["package", str(tmp_path / "t.zip")]) == 1
    out = capsys.readouterr().out
    assert "FAIL journal" in out and out.strip().endswith(
        "INVALID: anchor token journal/anchor.tsr: TSA signature does not verify")
    assert verify_main(["package", str(tmp_path / "missing.zip")]) == 1
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        verify_main(["package"])
    assert usage.value.code == 2


# ---------------------------------------------------------------------------------------------------------------
# On a clean machine: a fresh venv with only the verifier and its two dependencies


@pytest.mark.slow
def test_a_copied_package_verifies_with_only_the_standalone_verifier(built, tmp_path_factory):
    venv = verifier_venv(tmp_path_factory)
    home = tmp_path_factory.mktemp("court")
    shutil.copy(built["path"], home / "PKG.zip")
    (home / "roots.pem").write_bytes(built["roots"])
    (home / "journal.vkey").write_text(built["vkey"] + "\n")
    command = str(venv / "bin" / "vault-verify")

    ok = run_in(home, command, "package", "PKG.zip", "--tsa-roots", "roots.pem", "--journal-key", "journal.vkey")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for object_id in built["ids"]:
        assert re.search(rf"^OK   object   {object_id}  ", ok.stdout, re.M), ok.stdout
    assert ok.stdout.strip().endswith("VALID") and "FAIL" not in ok.stdout

    first = entry_of(built)
    rewrite_package(home / "PKG.zip", home / "tampered.zip", {"data/" + first["content"]: flip(0)}, rebag=True)
    bad = run_in(home, command, "package", "tampered.zip")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"FAIL object   {first['id']}  content {first['content']} = package.json: sha256 of the content is" \
        in bad.stdout
    assert f"INVALID: content {first['content']} = package.json" in bad.stdout
