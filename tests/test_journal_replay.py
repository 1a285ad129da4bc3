"""Offline replay of an exported journal with ``vault journal verify DIR|URL``: tampering is caught and named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.server_process import ROOT, ServerProcess, deposit, wait_anchored
from vault.journal.note import Verifier
from vault_verify.replay import verify_export
from vault.timestamping.tokens import load_pem_roots

pytestmark = pytest.mark.slow


def vault_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vault.cli.main", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A live server with 300 journal entries, its export, its verifier key and an early checkpoint."""
    base = tmp_path_factory.mktemp("replay")
    with ServerProcess(base / "data", env={"VAULT_CHECKPOINT_INTERVAL": "1", "VAULT_ANCHOR_INTERVAL": "1"}) as server:
        auditor = server.new_key("auditor", "*")
        with server.client(server.new_key("depositor", "acme")) as http, server.client(auditor) as audit:
            for i in range(40):
                last = deposit(http, f"early {i}".encode())
            wait_anchored(audit, last.json()["journal_index"])  # a checkpoint, then an anchor of it
            early = audit.get("/journal/checkpoint").content
            for i in range(260):
                last = deposit(http, f"late {i}".encode())
            wait_anchored(audit, last.json()["journal_index"])  # a checkpoint, then an anchor of it
            vkey = audit.get("/v1/journal/key").text.strip()
        done = vault_cli("journal", "export", str(base / "export"), "--url", server.url, "--key", auditor)
        assert done.returncode == 0, done.stderr
        via_url = vault_cli("journal", "verify", server.url, "--key", auditor, "--vkey", vkey, "--json")
        assert via_url.returncode == 0, via_url.stderr
    (base / "early.checkpoint").write_bytes(early)
    return {"dir": base / "export", "vkey": vkey, "early": early, "via_url": json.loads(via_url.stdout)}


@pytest.fixture
def copy(exported, tmp_path):
    target = tmp_path / "export"
    shutil.copytree(exported["dir"], target)
    return target


def check(directory, exported, trusted=None):
    roots = load_pem_roots((exported["dir"] / "tsa-roots.pem").read_bytes())
    return verify_export(directory, Verifier.parse(exported["vkey"]), trusted, roots)


def test_untouched_export_verifies_by_directory_and_by_url(exported):
    report = check(exported["dir"], exported, exported["early"])
    assert report.ok, report.problems
    assert report.size >= 300 and exported["via_url"]["ok"]
    done = vault_cli("journal", "verify", str(exported["dir"]), "--vkey", exported["vkey"],
                     "--trusted-checkpoint", str(exported["dir"].parent / "early.checkpoint"))
    assert done.returncode == 0 and "journal OK" in done.stdout


def test_an_edited_entry_is_named(copy, exported):
    bundle = copy / "tile/entries/000"
    data = bundle.read_bytes()
    bundle.write_bytes(data.replace(b'"action":"deposit"', b'"action":"depoXit"', 1))
    report = check(copy, exported)
    assert not report.ok and report.first_bad_index is not None and report.first_bad_index >= 1
    done = vault_cli("journal", "verify", str(copy), "--vkey", exported["vkey"])
    assert done.returncode == 1 and f"index {report.first_bad_index}" in done.stderr


def test_a_replaced_tile_is_caught(copy, exported):
    tile = copy / "tile/0/000"
    data = bytearray(tile.read_bytes())
    data[32 * 7] ^= 0xFF
    tile.write_bytes(bytes(data))
    report = check(copy, exported)
    assert not report.ok and report.first_bad_index == 7


def test_reordered_entries_are_caught(copy, exported):
    from vault.journal.tiles import bundle_entries, unbundle_entries

    bundle = copy / "tile/entries/000"
    entries = unbundle_entries(bundle.read_bytes())
    entries[3], entries[4] = entries[4], entries[3]
    bundle.write_bytes(bundle_entries(entries))
    report = check(copy, exported)
    assert not report.ok and report.first_bad_index == 3


def test_a_rolled_back_log_is_caught_with_a_trusted_later_checkpoint(copy, exported):
    from vault.journal.note import Note
    from vault.journal.tiles import bundle_entries, unbundle_entries

    early_size = int(Note.parse(exported["early"]).text.split(b"\n")[1])
    entries = unbundle_entries((copy / "tile/entries/000").read_bytes())[:early_size]
    hashes = (copy / "tile/0/000").read_bytes()[:32 * early_size]
    shutil.rmtree(copy / "tile")
    (copy / "tile/0").mkdir(parents=True)
    (copy / "tile/entries").mkdir(parents=True)
    (copy / f"tile/0/000.p/{early_size}").parent.mkdir(parents=True)
    (copy / f"tile/0/000.p/{early_size}").write_bytes(hashes)
    (copy / f"tile/entries/000.p/{early_size}").parent.mkdir(parents=True)
    (copy / f"tile/entries/000.p/{early_size}").write_bytes(bundle_entries(entries))
    (copy / "checkpoint").write_bytes(exported["early"])  # a server rolled back to its older, smaller tree
    anchored = check(copy, exported)  # the TSA anchors of the later tree already betray the rollback
    assert not anchored.ok and any("the log holds" in p for p in anchored.problems)
    shutil.rmtree(copy / "anchors")
    assert check(copy, exported).ok  # without anchors, the old tree on its own is a valid log
    report = check(copy, exported, trusted=(exported["dir"] / "checkpoint").read_bytes())
    assert not report.ok and "shrank" in report.problems[0] and report.first_bad_index == early_size


def test_a_forged_signature_is_caught(copy, exported):
    note = (copy / "checkpoint").read_bytes()
    lines = note.split(b"\n")
    lines[1] = str(int(lines[1]) + 1).encode()
    (copy / "checkpoint").write_bytes(b"\n".join(lines))
    report = check(copy, exported)
    assert not report.ok and "signature" in report.problems[0]
    other_key = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    assert not verify_export(exported["dir"], Verifier.parse(other_key)).ok


def test_export_holds_chained_tsa_anchors(exported):
    report = check(exported["dir"], exported)
    assert report.ok and report.anchors >= 2 and report.newest_anchor  # one after the early, one after the late
    assert not any("trust not checked" in note for note in report.notes)
    done = vault_cli("journal", "verify", str(exported["dir"]), "--vkey", exported["vkey"],
                     "--tsa-roots", str(exported["dir"] / "tsa-roots.pem"))
    assert done.returncode == 0 and "TSA anchors" in done.stdout


def test_a_deleted_or_forged_anchor_is_caught(copy, exported):
    first = sorted((copy / "anchors").glob("*.tsr"))[0]
    token = bytearray(first.read_bytes())
    token[-3] ^= 0x01
    first.write_bytes(bytes(token))
    report = check(copy, exported)
    assert not report.ok and any(p.startswith("anchor 0:") for p in report.problems)
    first.unlink()
    first.with_suffix(".checkpoint").unlink()
    report = check(copy, exported)
    assert not report.ok and any("one is missing" in p for p in report.problems)
