"""An auditor who pinned an older journal key follows the chain forward offline: each handover checkpoint in the
export (``handovers/<size>``), co-signed by the old key over the tree holding the key change entry, vouches for the
next key (vault_verify.journalkeys.follow_handovers, docs/journal.md, Key changes)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import make_settings
from tests.test_journal_key_change import _export
from vault.app import Vault
from vault.journal.checkpoints import load_or_create_signer
from vault.journal.entries import AccessEvent, Action
from vault_verify.canonical import canonical_json
from vault_verify.journalcli import verify_directory
from vault_verify.merkle import leaf_hash
from vault_verify.note import Checkpoint, Signer, sign_note
from vault_verify.tiles import Tile, bundle_entries, unbundle_entries


class Journal:
    """A vault whose journal key is replaced from time to time, exported offline."""

    def __init__(self, tmp_path: Path, monkeypatch) -> None:
        self.tmp = tmp_path
        self.keys = tmp_path / "keys"
        self.settings = make_settings(tmp_path, keys_dir=self.keys)
        monkeypatch.setenv("VAULT_KEYS_DIR", str(self.keys))
        self.signers: list[Signer] = []
        self.handover_sizes: list[int] = []

    def grow(self, entries: int, tenant: str = "*") -> None:
        vault = Vault.open(self.settings, sweep_in_background=False, background_jobs=False)
        try:
            if not self.signers:
                self.signers.append(vault.checkpointer.signer)
            tickets = [vault.journal.record(AccessEvent(actor="test", action=Action.LIST, tenant=tenant))
                       for _ in range(entries)]
            for ticket in tickets:
                ticket.result(30)
            vault.checkpointer.checkpoint_now()
        finally:
            vault.close()

    def rotate(self, lost: bool = False) -> None:
        """A new journal key, accepted with the old private key (co-signed handover) or, ``lost``, its verifier key
        alone."""
        from vault.cli.main import main

        kept = self.tmp / f"previous-{len(self.signers)}"
        old = self.signers[-1]
        kept.write_text(old.verifier.vkey() + "\n") if lost else shutil.copy(self.keys / "journal.key", kept)
        (self.keys / "journal.key").unlink()
        self.signers.append(load_or_create_signer(self.keys, self.settings.journal_origin))
        assert main(["identity", "accept", "--data-dir", str(self.settings.data_dir), "--reason", "rotation",
                     "--yes", "--previous-journal-key", str(kept)]) == 0

    def export(self, name: str, tenant: str = "*") -> Path:
        return _export(self.settings, self.tmp / name, tenant)

    def vkey(self, index: int) -> str:
        return self.signers[index].verifier.vkey()


def _handovers(directory: Path) -> list[int]:
    return sorted(int(path.name) for path in (directory / "handovers").iterdir())


def _journal_keys(report) -> list[str]:
    return [check.detail for check in report.checks if check.name == "journal keys"]


def test_every_pinned_key_follows_one_and_two_key_changes(tmp_path, monkeypatch):
    journal = Journal(tmp_path, monkeypatch)
    journal.grow(3)
    journal.rotate()
    journal.grow(4)
    once = journal.export("once")
    journal.rotate()
    journal.grow(260)  # past a full tile: the handover trees end inside a full entry bundle
    twice = journal.export("twice")

    first, second = _handovers(twice)
    assert _handovers(once) == [first] and second == first + 7  # the entry after 4 more, each tree holding it
    for directory, count in ((once, 2), (twice, 3)):
        for pinned in range(count):
            report = verify_directory(directory, journal.vkey(pinned))
            assert report.ok, (directory.name, pinned, report.failure_details)
            followed = [d for d in _journal_keys(report) if d.startswith("followed")]
            assert len(followed) == (pinned < count - 1), _journal_keys(report)
        newest = verify_directory(directory, journal.vkey(count - 1))
        assert any(c.name == "checkpoint" and journal.signers[count - 1].name in c.detail for c in newest.checks)
    oldest = verify_directory(twice, journal.vkey(0), str(once / "checkpoint"))  # an earlier checkpoint, key 2 of 3
    assert oldest.ok, oldest.failure_details
    assert any(c.name == "trusted checkpoint" and c.ok for c in oldest.checks)
    assert f"handover checkpoints of size {first}, {second}" in _journal_keys(oldest)[0]

    stranger = Signer.generate(journal.settings.journal_origin).verifier.vkey()
    refused = verify_directory(twice, stranger)
    assert not refused.ok and any(c.name == "checkpoint" and not c.ok for c in refused.checks)


def test_forged_or_missing_handovers_are_refused(tmp_path, monkeypatch):
    journal = Journal(tmp_path, monkeypatch)
    journal.grow(3)
    journal.rotate()
    journal.grow(5)
    genuine = journal.export("genuine")
    old = journal.signers[0]
    [size] = _handovers(genuine)
    at = f"broken at entry {size - 1}"

    def broken(name: str) -> str:
        report = verify_directory(tmp_path / name, journal.vkey(0))
        assert not report.ok
        return " ".join(report.failure_details)

    # signed by the old key, but over another tree
    shutil.copytree(genuine, tmp_path / "other-tree")
    other = sign_note(Checkpoint(old.name, size, bytes(32)).text(), old)
    (tmp_path / f"other-tree/handovers/{size}").write_bytes(other)
    assert f"{at}: the handover checkpoint does not sign the tree of the first {size}" in broken("other-tree")

    # the new key's signature alone: the old key never vouched for it
    shutil.copytree(genuine, tmp_path / "unsigned")
    (tmp_path / f"unsigned/handovers/{size}").write_bytes(without_signature(genuine / f"handovers/{size}", old))
    assert "does not open with" in broken("unsigned")

    shutil.copytree(genuine, tmp_path / "missing")
    (tmp_path / f"missing/handovers/{size}").unlink()
    assert f"{at}: the export holds no handover checkpoint handovers/{size}" in broken("missing")

    # the key change entry rewritten to name another key (and the newest checkpoint re-signed by it): the genuine
    # handover checkpoint, signed by the old key, does not sign that tree
    thief = Signer.generate(journal.settings.journal_origin)
    forged = tmp_path / "other-key"
    shutil.copytree(genuine, forged)
    [bundle] = (forged / "tile/entries").glob("000*/*")
    entries = unbundle_entries(bundle.read_bytes())
    change = json.loads(entries[size - 1])
    change["detail"]["journal_key"]["new"] = thief.verifier.vkey()
    entries[size - 1] = canonical_json(change)
    bundle.write_bytes(bundle_entries(entries))
    from vault_verify.merkle import root_from_leaves

    root = root_from_leaves([leaf_hash(e) for e in entries])
    (forged / "checkpoint").write_bytes(sign_note(Checkpoint(thief.name, len(entries), root).text(), thief))
    assert f"{at}: the handover checkpoint does not sign the tree" in broken("other-key")


def without_signature(path: Path, signer: Signer) -> bytes:
    """The signed note at ``path`` without ``signer``'s signature line."""
    body, signatures = path.read_bytes().split(b"\n\n", 1)
    lines = [line for line in signatures.splitlines(keepends=True) if signer.verifier.key_hash not in _key_hash(line)]
    return body + b"\n\n" + b"".join(lines)


def _key_hash(signature_line: bytes) -> bytes:
    """The 4-byte key hash a signed note's signature line starts with (c2sp.org/signed-note)."""
    import base64

    if not signature_line.startswith("— ".encode()):
        return b""
    return base64.b64decode(signature_line.split()[-1])[:4]


def test_a_lost_old_key_breaks_the_chain_for_an_old_pin(tmp_path, monkeypatch):
    journal = Journal(tmp_path, monkeypatch)
    journal.grow(3)
    journal.rotate(lost=True)
    journal.grow(2)
    directory = journal.export("lost")

    [size] = _handovers(directory)  # the handover checkpoint, by the new key alone
    report = verify_directory(directory, journal.vkey(0))
    assert not report.ok
    assert any(f"broken at entry {size - 1}: the old key did not co-sign the handover" in d for d in report.failure_details)
    assert verify_directory(directory, journal.vkey(1)).ok


def test_go_opens_the_handover_checkpoint_with_the_old_key(tmp_path, monkeypatch):
    from tests.interop.test_go_tlog import go_tlogcheck

    journal = Journal(tmp_path, monkeypatch)
    journal.grow(3)
    journal.rotate()
    journal.grow(6)
    directory = journal.export("later")
    (tmp_path / "go").mkdir()
    checker = go_tlogcheck(tmp_path / "go")
    if checker is None:
        return  # go_tlogcheck fails under CI where Go is missing

    # the tree of the handover checkpoint, cut from the later export's entries: Go recomputes its root
    handover = tmp_path / "handover"
    [size] = _handovers(directory)
    [bundle] = (directory / "tile/entries").glob("000*/*")
    entries = unbundle_entries(bundle.read_bytes())[:size]
    for tile, data in ((Tile(-1, 0, size), bundle_entries(entries)),
                       (Tile(0, 0, size), b"".join(map(leaf_hash, entries)))):
        (handover / tile.path()).parent.mkdir(parents=True, exist_ok=True)
        (handover / tile.path()).write_bytes(data)
    shutil.copy(directory / f"handovers/{size}", handover / "checkpoint")
    for pinned in (0, 1):  # co-signed: either key opens it
        (handover / "vkey").write_text(journal.vkey(pinned) + "\n")
        done = subprocess.run([str(checker), str(handover)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    (handover / Tile(-1, 0, size).path()).write_bytes(bundle_entries([*entries[:-1], entries[0]]))
    done = subprocess.run([str(checker), str(handover)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0  # another tree: not what the old key signed
