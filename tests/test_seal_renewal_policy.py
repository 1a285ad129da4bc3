"""Renewals that the scheduler decides on its own: before the TSA certificate expires, after the re-seal interval,
and when the crypto policy marks an algorithm as weakening (RFC 4998 §5.2) — resumable after a failure."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock
from vault.evidence.verify import DataObject, verify_evidence_record
from vault.timestamping.client import TsaUnavailable


@pytest.fixture
def clocked(tmp_path, database_url):
    clock = FixedClock(datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc))
    vault = Vault.open(make_settings(tmp_path, database_url), clock, sweep_in_background=False, background_jobs=False)
    api = Api(TestClient(create_app(vault)), ADMIN_KEY)
    yield vault, api, clock
    vault.close()


def deposit_and_seal(vault, api, contents):
    ids = [api.deposit(c, tenant="acme").json()["id"] for c in contents]
    vault.seal_scheduler.seal_all_pending()
    return ids


def verdict_for(vault, api, object_id, content):
    record = api.get(f"/v1/objects/{object_id}/evidence-record").content
    digests = {n: hashlib.new(n, content).digest() for n in ("sha256", "sha512", "sha3_512")}
    verdict = verify_evidence_record(record, [DataObject(digests=digests)], roots=[vault.dev_tsa.root])
    assert verdict.ok, verdict.first_failure
    return verdict


def chains_and_tokens(verdict):
    chains = {s.name.split(" ATS")[0] for s in verdict.steps}
    return len(chains), len(verdict.gen_times)


def test_nothing_is_due_on_day_one(clocked):
    vault, api, _clock = clocked
    deposit_and_seal(vault, api, [b"fresh"])
    assert vault.sealer.due_chains() == []
    assert vault.sealer.renew_timestamps().batches == []


def test_renewal_before_the_tsa_certificate_expires(clocked):
    vault, api, clock = clocked
    [object_id] = deposit_and_seal(vault, api, [b"long lived"])
    not_after = vault.dev_tsa.certificate.not_valid_after_utc
    clock.advance(not_after - vault.sealer.policy.renewal_margin - clock.now() + timedelta(days=1))
    inventory = api.get("/v1/admin/crypto-inventory").json()
    assert any("renewal overdue" in alert for alert in inventory["alerts"])
    vault.seal_scheduler._check_renewals()
    assert chains_and_tokens(verdict_for(vault, api, object_id, b"long lived")) == (1, 2)
    assert vault.sealer.due_chains() == []


def test_renewal_after_the_reseal_interval(clocked):
    vault, api, clock = clocked
    [object_id] = deposit_and_seal(vault, api, [b"interval"])
    clock.advance(vault.sealer.policy.reseal_interval + timedelta(hours=1))
    assert len(vault.sealer.due_chains()) == 1
    vault.sealer.renew_timestamps()
    assert chains_and_tokens(verdict_for(vault, api, object_id, b"interval")) == (1, 2)


def test_weak_algorithm_triggers_hash_tree_renewal_and_resumes_after_failure(clocked):
    vault, api, _clock = clocked
    contents = [f"weak {i}".encode() for i in range(6)]
    ids = deposit_and_seal(vault, api, contents)
    vault.sealer.policy = replace(vault.sealer.policy, weak=frozenset({"sha256"}), batch_max=4)
    assert vault.sealer.policy.sealing_algorithm() == "sha512"

    transport, calls = vault.tsa.transport, []

    def fail_second_batch(*args):
        calls.append(1)
        if len(calls) == 2:
            raise httpx.ConnectError("TSA gone (injected)")
        return transport(*args)

    vault.tsa.transport = fail_second_batch
    with pytest.raises(TsaUnavailable):
        vault.seal_scheduler._check_renewals()
    assert vault.sealer.objects_by_newest_algorithm() == {"sha512": 4, "sha256": 2}
    vault.seal_scheduler.state.last_renewal_check_at = None
    vault.seal_scheduler._check_renewals()
    assert vault.sealer.objects_by_newest_algorithm() == {"sha512": 6}
    for object_id, content in zip(ids, contents):
        assert chains_and_tokens(verdict_for(vault, api, object_id, content)) == (2, 2)
    newer = api.deposit(b"sealed with sha512", tenant="acme").json()["id"]
    vault.seal_scheduler.seal_all_pending()
    assert verdict_for(vault, api, newer, b"sealed with sha512").steps[0].name.startswith("chain 1 (sha512)")
    assert vault.sealer.due_chains() == []  # the frozen sha256 chains are never timestamp-renewed again


def test_an_imported_chain_is_renewed_when_due_and_its_record_continued(clocked):
    """vault.evidence.imported: a record made elsewhere (here one of this vault's own, registered as imported)
    joins the timestamp renewals once due; the continued record verifies, the verbatim one is untouched."""
    from vault.evidence.imported import continued_record, register_chain

    vault, api, clock = clocked
    [object_id] = deposit_and_seal(vault, api, [b"from elsewhere"])
    der = api.get(f"/v1/objects/{object_id}/evidence-record").content
    key = vault.writer.run(lambda c: register_chain(c, der, clock.now()))
    assert key and vault.writer.run(lambda c: register_chain(c, der, clock.now())) == key  # once per chain
    assert vault.writer.run(lambda c: register_chain(c, b"\x30\x03not", clock.now())) is None
    assert vault.sealer.due_imported_chains() == []
    digests = {n: hashlib.new(n, b"from elsewhere").digest() for n in ("sha256", "sha512")}
    for renewals in (1, 2):
        clock.advance(vault.sealer.policy.reseal_interval + timedelta(hours=1))
        assert [row.key for row, _ids in vault.sealer.due_imported_chains()] == [key]
        assert vault.sealer.renew_timestamps().renewed == 2  # its own chain and the "imported" one
        assert vault.sealer.due_imported_chains() == []
        with vault.reader.connect() as connection:
            continued, appended = continued_record(connection, der)
            assert continued_record(connection, b"\x30\x03not") == (b"\x30\x03not", 0)
        assert appended == renewals
        verdict = verify_evidence_record(continued, [DataObject(digests=digests)], roots=[vault.dev_tsa.root])
        assert verdict.ok and len(verdict.gen_times) == 1 + renewals, verdict.first_failure
    assert api.get(f"/v1/objects/{object_id}/evidence-record").content != der  # (its own chain was renewed too)
