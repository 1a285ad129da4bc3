"""The archive's clock jumps back an hour and forward a day (an NTP step, a VM resumed) between deposits, seal
passes, checkpoints, anchors and a timestamp renewal (issue 19, fault suite). Nothing may crash; afterwards the
journal verifies (``vault journal verify --data-dir``: entries, signed checkpoints, TSA anchors) and every object's
evidence record verifies with the standalone verifier (RFC 4998 §5.3) against the archive's published TSA roots.

The clock is an injected :class:`vault.clock.FixedClock`, which the embedded development TSA shares: its tokens
step back with it, as they would with a system clock stepped back under the embedded default.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta, timezone

from vault_verify.ers import DataObject, verify_evidence_record
from vault_verify.tokens import load_pem_roots

from tests.faults.crash import journal_verify

JUMPS = [timedelta(hours=-1), timedelta(days=1), timedelta(hours=-1), timedelta(days=-1), timedelta(days=1)]


def test_clock_jumps_back_and_forth_during_deposits_and_seals(vault_at, tmp_path, database_url):
    vault, clock, admin = vault_at(datetime.now(timezone.utc).replace(microsecond=0))
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    contents: dict[str, bytes] = {}
    anchored = []
    for step, jump in enumerate([timedelta(0), *JUMPS]):
        clock.advance(jump)
        for n in range(5):
            content = os.urandom(64) + f"step {step} proof {n}".encode()
            receipt = depositor.deposit(content, case_ref="CLOCK-1")
            assert receipt.status_code == 201, receipt.text
            contents[receipt.json()["id"]] = content
        assert vault.seal_scheduler.seal_all_pending()
        vault.checkpointer.checkpoint_now()
        anchored.append(vault.anchorer.anchor_now(force=True) is not None)
        if step == 2:  # an hour before the last seal: renew every chain
            renewed = admin.post("/v1/admin/reseal", json={"kind": "timestamp-renewal"})
            assert renewed.status_code == 200, renewed.text
    assert admin.get("/ready").status_code == 200
    # the development TSA shares the stepped clock: an anchor whose time would run backwards is postponed, not
    # stored (the chain of anchors must keep its time order), until the TSA's time passes the last anchor's
    assert anchored == [True, False, True, False, False, False]
    assert "earlier than the last anchor's" in vault.anchorer.last_error

    roots = load_pem_roots(admin.get("/v1/tsa/roots").content)
    for object_id, content in contents.items():
        record = depositor.get(f"/v1/objects/{object_id}/evidence-record")
        assert record.status_code == 200, record.text
        data = DataObject(digests={"sha256": hashlib.sha256(content).digest(),
                                   "sha512": hashlib.sha512(content).digest()})
        verdict = verify_evidence_record(record.content, [data], roots=roots)
        assert verdict.ok, verdict.first_failure

    report = journal_verify(tmp_path / "data", {"VAULT_DATABASE_URL": database_url} if database_url else None)
    assert report["signed_checkpoints"] >= len(JUMPS) and report["anchors"] == 2
