"""A tenant's auditor who pinned an older journal key follows the chain forward offline, from the hash tiles alone:
each key change entry (in ``key_changes``) is a leaf of the tiles' tree, the tree of the handover size recomputed
from the tiles holds it, and the handover checkpoint (``handovers/<size>``) signs that root with the key trusted so
far (vault_verify.tenantjournal, docs/journal.md "Key changes")."""

from __future__ import annotations

import json
import shutil

from tests.test_journal_key_follow import Journal, _handovers, _journal_keys, without_signature
from vault_verify.journalcli import verify_directory
from vault_verify.note import Checkpoint, Signer, sign_note


def _tenant_journal(tmp_path, monkeypatch) -> Journal:
    journal = Journal(tmp_path, monkeypatch)
    journal.grow(2, "acme")
    journal.grow(1)
    return journal


def test_tenant_export_follows_one_and_two_key_changes(tmp_path, monkeypatch):
    journal = _tenant_journal(tmp_path, monkeypatch)
    journal.rotate()
    journal.grow(3, "acme")
    once = journal.export("once", "acme")
    journal.rotate()
    journal.grow(260, "acme")  # past a full tile: the later handover trees end inside the second leaf tile
    twice = journal.export("twice", "acme")

    first, second = _handovers(twice)
    assert _handovers(once) == [first]
    assert json.loads((twice / "tenant-entries.json").read_text())["scope"] == "acme"
    for directory, count in ((once, 2), (twice, 3)):
        for pinned in range(count):
            report = verify_directory(directory, journal.vkey(pinned))
            assert report.ok, (directory.name, pinned, report.failure_details)
            assert report.scope == "acme"
            followed = [d for d in _journal_keys(report) if d.startswith("followed")]
            assert len(followed) == (pinned < count - 1), _journal_keys(report)
    oldest = verify_directory(twice, journal.vkey(0), str(once / "checkpoint"))  # signed by key 2 of 3
    assert oldest.ok, oldest.failure_details
    assert any(c.name.startswith("trusted checkpoint") and c.ok for c in oldest.checks)
    assert f"handover checkpoints of size {first}, {second}" in _journal_keys(oldest)[0]
    middle = verify_directory(twice, journal.vkey(1))
    assert f"handover checkpoint of size {second}," in _journal_keys(middle)[0]

    stranger = verify_directory(twice, Signer.generate(journal.settings.journal_origin).verifier.vkey())
    assert not stranger.ok and any("not one the journal introduced" in p for p in stranger.problems)


def test_forged_handovers_refuse_an_old_pin(tmp_path, monkeypatch):
    journal = _tenant_journal(tmp_path, monkeypatch)
    journal.rotate()
    journal.grow(4, "acme")
    genuine = journal.export("genuine", "acme")
    old = journal.signers[0]
    [size] = _handovers(genuine)
    at = f"broken at entry {size - 1}"
    assert verify_directory(genuine, journal.vkey(0)).ok

    def broken(name: str) -> str:
        report = verify_directory(tmp_path / name, journal.vkey(0))
        assert not report.ok
        assert verify_directory(tmp_path / name, journal.vkey(1)).ok == (name != "other-key")  # the newest pin
        return " ".join(report.failure_details)

    shutil.copytree(genuine, tmp_path / "other-root")  # signed by the old key, but over another tree
    (tmp_path / f"other-root/handovers/{size}").write_bytes(sign_note(Checkpoint(old.name, size, bytes(32)).text(), old))
    assert f"{at}: the handover checkpoint does not sign the tree of the first {size}" in broken("other-root")

    shutil.copytree(genuine, tmp_path / "unsigned")  # the new key's signature alone: the old key never vouched
    (tmp_path / f"unsigned/handovers/{size}").write_bytes(without_signature(genuine / f"handovers/{size}", old))
    assert f"{at}: the handover checkpoint does not open with {journal.vkey(0)}" in broken("unsigned")

    shutil.copytree(genuine, tmp_path / "missing")
    (tmp_path / f"missing/handovers/{size}").unlink()
    assert f"{at}: the export holds no handover checkpoint handovers/{size}" in broken("missing")

    # the key change entry rewritten to hand over to a thief's key: not the leaf the tiles hold at its index
    thief = Signer.generate(journal.settings.journal_origin)
    shutil.copytree(genuine, tmp_path / "other-key")
    listing = json.loads((genuine / "tenant-entries.json").read_text())
    for page in listing["pages"]:
        for change in page["key_changes"]:
            change["detail"]["journal_key"]["new"] = thief.verifier.vkey()
    (tmp_path / "other-key/tenant-entries.json").write_text(json.dumps(listing))
    assert f"{at}: the key change entry is not the leaf of the hash tiles at its index" in broken("other-key")


def test_a_lost_old_key_refuses_an_old_pin_of_a_tenant(tmp_path, monkeypatch):
    journal = _tenant_journal(tmp_path, monkeypatch)
    journal.rotate(lost=True)
    journal.grow(2, "acme")
    directory = journal.export("lost", "acme")

    [size] = _handovers(directory)  # the handover checkpoint, by the new key alone
    report = verify_directory(directory, journal.vkey(0))
    assert not report.ok
    assert any(f"broken at entry {size - 1}: the old key did not co-sign the handover" in d
               for d in report.failure_details), report.failure_details
    assert verify_directory(directory, journal.vkey(1)).ok
