"""Journal anchors: the newest checkpoint timestamped by the TSA, each anchor chained to the previous one."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import replace

from vault.journal.anchors import load_anchors
from vault_verify.anchors import anchor_imprint, verify_anchors
from vault.journal.audit import audit_journal


def anchored(vault, depositor, count=1):
    """Deposit, checkpoint and anchor ``count`` times; returns the anchors made."""
    made = []
    for i in range(count):
        assert depositor.deposit(f"anchored {len(made)} {i}".encode()).status_code == 201
        vault.checkpointer.checkpoint_now()
        made.append(vault.anchorer.anchor_now())
    return made


def roots(vault):
    return [vault.dev_tsa.root]


def test_anchors_chain_and_only_when_the_log_grew(vault, depositor):
    first, second = anchored(vault, depositor, 2)
    assert (first.seq, second.seq) == (0, 1) and second.checkpoint_size > first.checkpoint_size
    assert vault.anchorer.anchor_now() is None  # nothing new since
    with vault.reader.connect() as connection:
        stored = load_anchors(connection)
    assert [a.token for a in stored] == [first.token, second.token]
    report = verify_anchors(stored, vault.checkpointer.signer.verifier, roots(vault))
    assert report.problems == [] and report.anchors == 2
    assert anchor_imprint(second.note, first.token) == hashlib.sha256(second.note + first.token).digest()


def test_openssl_verifies_an_anchor_token(vault, depositor, tmp_path):
    _first, second = anchored(vault, depositor, 2)
    token = tmp_path / "anchor.tsr"
    token.write_bytes(second.token)
    pem = tmp_path / "roots.pem"
    pem.write_bytes(vault.tsa_roots_pem())
    imprint = anchor_imprint(second.note, _first.token).hex()
    done = subprocess.run(["openssl", "ts", "-verify", "-token_in", "-in", str(token), "-digest", imprint,
                           "-CAfile", str(pem)], capture_output=True, text=True)
    assert "Verification: OK" in done.stdout, done.stdout + done.stderr


def test_a_missing_reordered_or_altered_anchor_is_caught(vault, depositor):
    anchors = anchored(vault, depositor, 3)
    verifier = vault.checkpointer.signer.verifier
    missing = verify_anchors([anchors[0], anchors[2]], verifier, roots(vault))
    assert any("anchor 2: expected anchor 1" in p for p in missing.problems)
    swapped = verify_anchors([anchors[1], anchors[0], anchors[2]], verifier, roots(vault))
    assert swapped.problems
    flipped = bytearray(anchors[1].token)
    flipped[-1] ^= 1
    altered = verify_anchors([anchors[0], replace(anchors[1], token=bytes(flipped)), anchors[2]], verifier,
                             roots(vault))
    assert any(p.startswith("anchor 1:") for p in altered.problems)
    assert any(p.startswith("anchor 2:") and "imprint" in p for p in altered.problems)  # the chain breaks too


def test_an_anchor_catches_a_log_rewritten_with_the_signing_key(vault, depositor):
    """Whoever holds the journal key can re-sign a rewritten log; they cannot re-date the old anchor."""
    [anchor] = anchored(vault, depositor)
    report = verify_anchors([anchor], vault.checkpointer.signer.verifier, roots(vault),
                            tree_root_at=lambda size: b"\x00" * 32, log_size=anchor.checkpoint_size)
    assert any("no longer match the anchored checkpoint" in p for p in report.problems)
    shrunk = verify_anchors([anchor], vault.checkpointer.signer.verifier, roots(vault),
                            tree_root_at=lambda size: b"", log_size=anchor.checkpoint_size - 1)
    assert any("the log holds" in p for p in shrunk.problems)


def test_live_audit_checks_anchors(vault, depositor):
    anchored(vault, depositor, 2)
    report = audit_journal(vault.reader, vault.checkpointer.signer.verifier, tsa_roots=roots(vault))
    assert report.ok, report.problems
    assert report.anchors == 2 and report.newest_anchor


def test_anchors_endpoint_is_for_auditors(vault, admin, depositor):
    anchored(vault, depositor, 1)
    listed = admin.get("/v1/journal/anchors").json()["anchors"]
    assert len(listed) == 1 and listed[0]["checkpoint"].startswith(vault.settings.journal_origin)
    assert depositor.get("/v1/journal/anchors").status_code == 403
