"""Sealing over the API: pending → sealed, evidence records that verify, renewals, admin control, inventory."""

from __future__ import annotations

import hashlib

from vault.evidence.verify import DataObject, verify_evidence_record
from vault.timestamping.tokens import load_pem_roots


def deposit(api, content: bytes, **meta) -> dict:
    response = api.deposit(content, **meta)
    assert response.status_code == 201, response.text
    return response.json()


def evidence(api, object_id: str) -> bytes:
    response = api.get(f"/v1/objects/{object_id}/evidence-record")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.vault.ers"
    return response.content


def roots(api):
    response = api.client.get("/v1/tsa/roots")
    assert response.status_code == 200
    return load_pem_roots(response.content)


def check(api, record: bytes, content: bytes):
    verdict = verify_evidence_record(record, [_data(content)], roots=roots(api))
    failure = verdict.first_failure
    assert verdict.ok, f"{failure.name}: {failure.detail}" if failure else "no steps"
    return verdict


def _data(content: bytes) -> DataObject:
    return DataObject(digests={name: hashlib.new(name, content).digest()
                               for name in ("sha256", "sha384", "sha512", "sha3_256", "sha3_512")})


def test_pending_then_sealed(vault, depositor):
    receipt = deposit(depositor, b"proof one")
    pending = depositor.get(f"/v1/objects/{receipt['id']}/evidence-record")
    assert pending.status_code == 409
    assert pending.headers["content-type"] == "application/problem+json"
    assert pending.json()["type"].endswith("seal-pending")
    assert depositor.get(f"/v1/objects/{receipt['id']}/receipt").json()["seal"] == {"status": "pending"}

    batches = vault.seal_scheduler.seal_all_pending()
    assert len(batches) == 1
    record = evidence(depositor, receipt["id"])
    verdict = check(depositor, record, b"proof one")
    assert any("development, not qualified" in note for note in verdict.notes)
    seal = depositor.get(f"/v1/objects/{receipt['id']}/receipt").json()["seal"]
    assert seal["status"] == "sealed" and seal["batch_id"] == batches[0]
    assert seal["token_gen_time"] and seal["sealed_at"] and seal["qualification"] == "development, not qualified"


def test_one_batch_and_one_token_for_many_deposits(vault, depositor):
    contents = [f"proof {i}".encode() for i in range(37)]
    receipts = [deposit(depositor, c) for c in contents]
    calls = []
    transport = vault.tsa.transport
    vault.tsa.transport = lambda *a: calls.append(a) or transport(*a)
    assert len(vault.seal_scheduler.seal_all_pending()) == 1
    assert len(calls) == 1
    for receipt, content in zip(receipts, contents):
        check(depositor, evidence(depositor, receipt["id"]), content)
    other = verify_evidence_record(evidence(depositor, receipts[5]["id"]), [_data(b"not deposited")])
    assert not other.ok and other.first_failure.name.endswith("covers the data")


def test_renewals_keep_every_record_valid(vault, depositor, admin):
    contents = [f"renew {i}".encode() for i in range(5)]
    receipts = [deposit(depositor, c) for c in contents]
    vault.seal_scheduler.seal_all_pending()
    steps = [
        ({"kind": "timestamp-renewal"}, 1),
        ({"kind": "timestamp-renewal"}, 1),
        ({"kind": "hash-tree-renewal", "hash": "sha512"}, 2),
        ({"kind": "timestamp-renewal"}, 2),
        ({"kind": "hash-tree-renewal", "hash": "sha3-512"}, 3),
    ]
    for body, chains in steps:
        response = admin.post("/v1/admin/reseal", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["batches"], response.json()
        for receipt, content in zip(receipts, contents):
            verdict = check(depositor, evidence(depositor, receipt["id"]), content)
            assert len({s.name.split(" ATS")[0] for s in verdict.steps}) == chains
    inventory = admin.get("/v1/admin/crypto-inventory").json()
    assert inventory["objects_by_algorithm"] == {"sha3_512": 5}


def test_later_deposits_start_new_batches(vault, depositor):
    first = deposit(depositor, b"early")
    vault.seal_scheduler.seal_all_pending()
    second = deposit(depositor, b"late")
    vault.seal_scheduler.seal_all_pending()
    one = depositor.get(f"/v1/objects/{first['id']}/receipt").json()["seal"]["batch_id"]
    two = depositor.get(f"/v1/objects/{second['id']}/receipt").json()["seal"]["batch_id"]
    assert one != two
    check(depositor, evidence(depositor, second["id"]), b"late")


def test_reseal_is_admin_only_and_validated(depositor, admin):
    denied = depositor.post("/v1/admin/reseal", json={"kind": "timestamp-renewal"})
    assert denied.status_code == 403
    for body in ({"kind": "hash-tree-renewal"}, {"kind": "hash-tree-renewal", "hash": "md5"}, {"kind": "sometime"}):
        response = admin.post("/v1/admin/reseal", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert depositor.get("/v1/admin/crypto-inventory").status_code == 403


def test_inventory_lists_algorithms_certificates_and_alerts(vault, depositor, admin):
    deposit(depositor, b"inventory")
    before = admin.get("/v1/admin/crypto-inventory").json()
    assert before["seal_lag"]["pending"] == 1
    vault.seal_scheduler.seal_all_pending()
    inventory = admin.get("/v1/admin/crypto-inventory").json()
    assert inventory["objects_by_algorithm"] == {"sha256": 1}
    assert inventory["seal_lag"]["pending"] == 0
    [cert] = inventory["tsa_certificates"]
    assert "development" in cert["subject"] and cert["not_after"]
    [chain] = inventory["chains"]
    assert chain["next_renewal_due"] and chain["objects"] == 1
    assert any("development TSA" in alert for alert in inventory["alerts"])


def test_seal_and_renewal_are_journaled(vault, depositor, admin):
    deposit(depositor, b"journaled")
    vault.seal_scheduler.seal_all_pending()
    admin.post("/v1/admin/reseal", json={"kind": "timestamp-renewal"})
    actions = [e["action"] for e in admin.get("/v1/journal/entries").json()["entries"]]
    assert "seal" in actions and "reseal" in actions
    exported = [e for e in admin.get("/v1/journal/entries", params={"action": "evidence_export"}).json()["entries"]]
    assert exported == []
    evidence(depositor, depositor.get("/v1/objects").json()["items"][0]["id"])
    exported = admin.get("/v1/journal/entries", params={"action": "evidence_export"}).json()["entries"]
    assert len(exported) == 1


def test_unknown_object_evidence_is_404(depositor):
    response = depositor.get("/v1/objects/01900000-0000-7000-8000-000000000000/evidence-record")
    assert response.status_code == 404
