"""``vault journal export|verify`` with a tenant auditor's key, against a live server: refused the entry bundles, it
exports the hash tiles and its own entries with their proofs, and verifies what it may see (issue #18)."""

from __future__ import annotations

import json

import pytest

from tests.server_process import ServerProcess, deposit, wait_anchored
from tests.test_journal_replay import copy, vault_cli  # noqa: F401  (copy: a fixture, over this module's export)
from vault.journal.note import Verifier
from vault_verify.replay import verify_tenant_export

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A log of ~300 entries of two tenants; acme's auditor's export, its verification by URL, an early checkpoint."""
    base = tmp_path_factory.mktemp("tenant-journal")
    with ServerProcess(base / "data", env={"VAULT_CHECKPOINT_INTERVAL": "1", "VAULT_ANCHOR_INTERVAL": "1"}) as server:
        auditor = server.new_key("auditor", "acme")
        with server.client(server.new_key("depositor", "acme")) as acme, \
                server.client(server.new_key("depositor", "globex")) as globex, server.client(auditor) as audit:
            for i in range(20):
                last = deposit(acme, f"acme early {i}".encode())
            wait_anchored(audit, last.json()["journal_index"])  # a checkpoint, then an anchor of it
            early = audit.get("/journal/checkpoint").content
            for i in range(250):
                last = deposit(globex, f"globex secret {i}".encode(), case_ref="GLOBEX-CASE")
                deposit(acme, f"acme late {i}".encode()) if i % 10 == 0 else None
            wait_anchored(audit, last.json()["journal_index"])
            vkey = audit.get("/v1/journal/key").text.strip()
        done = vault_cli("journal", "export", str(base / "export"), "--url", server.url, "--key", auditor)
        assert done.returncode == 0, done.stderr
        assert "tenant acme" in done.stdout
        via_url = vault_cli("journal", "verify", server.url, "--key", auditor, "--vkey", vkey, "--json")
        assert via_url.returncode == 0, via_url.stdout + via_url.stderr
    (base / "early.checkpoint").write_bytes(early)
    return {"dir": base / "export", "vkey": vkey, "early": base / "early.checkpoint",
            "via_url": json.loads(via_url.stdout)}


def test_the_export_holds_hash_tiles_and_own_entries_only(exported):
    directory = exported["dir"]
    assert not (directory / "tile/entries").exists() and (directory / "tile/0/000").is_file()
    listing = (directory / "tenant-entries.json").read_text()
    assert "globex" not in listing and "GLOBEX" not in listing
    entries = [e for page in json.loads(listing)["pages"] for e in page["entries"]]
    assert len(entries) >= 45 and {e["tenant"] for e in entries} == {"acme"}


def test_verify_says_what_it_verified(exported):
    done = vault_cli("journal", "verify", str(exported["dir"]), "--vkey", exported["vkey"],
                     "--trusted-checkpoint", str(exported["early"]))
    assert done.returncode == 0, done.stderr
    assert "journal OK as seen by tenant acme" in done.stdout
    assert "verified as tenant 'acme'" in done.stdout and "not verified" in done.stdout
    summary = exported["via_url"]
    assert summary["ok"] and summary["scope"] == "acme" and summary["entries"] >= 280 and summary["anchors"] >= 1


def _check(directory, exported, trusted=None):
    return verify_tenant_export(directory, Verifier.parse(exported["vkey"]), trusted)


def test_an_edited_own_entry_is_named(copy, exported):
    listing = json.loads((copy / "tenant-entries.json").read_text())
    entry = next(e for e in listing["pages"][0]["entries"] if e["action"] == "deposit")
    entry["detail"]["size"] += 1
    (copy / "tenant-entries.json").write_text(json.dumps(listing))
    report = _check(copy, exported)
    assert not report.ok and report.first_bad_index == entry["seq"]
    assert any(f"entry {entry['seq']}" in problem for problem in report.problems)


def test_a_replaced_hash_tile_is_caught(copy, exported):
    tile = copy / "tile/0/000"
    data = bytearray(tile.read_bytes())
    data[32 * 7] ^= 0xFF
    tile.write_bytes(bytes(data))
    report = _check(copy, exported)
    # without the entries, a leaf hash is only known wrong through the subtree it belongs to: leaves 0…255
    assert not report.ok and report.first_bad_index == 0 and "tile/1/000" in report.problems[0]


def test_a_forged_inclusion_proof_is_caught(copy, exported):
    """Audit paths that do not lead to the page's signed root fail, a trusted older checkpoint or not."""
    listing = json.loads((copy / "tenant-entries.json").read_text())
    first = listing["pages"][0]
    first["proofs"]["inclusion"] = {k: v[::-1] for k, v in first["proofs"]["inclusion"].items()}
    (copy / "tenant-entries.json").write_text(json.dumps(listing))
    report = _check(copy, exported, exported["early"].read_bytes())
    assert not report.ok and any("inclusion proof" in problem for problem in report.problems)
