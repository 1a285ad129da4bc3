"""Deposit, read back, receipts and idempotency through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone

from tests.times import days_ago
from vault.clock import iso_z
from vault.ids import is_object_id

PARIS_WINTER = timezone(timedelta(hours=1))


def test_deposit_returns_a_receipt_with_digests_and_retention(depositor, vault):
    content = b"%PDF-1.7\n" + b"evidence " * 100
    response = depositor.deposit(content, case_ref="LRE-2026-0001", policy="lre-proof", event_type="sending")
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert is_object_id(receipt["id"])
    assert receipt["sha256"] == hashlib.sha256(content).hexdigest()
    assert receipt["sha512"] == hashlib.sha512(content).hexdigest()
    assert receipt["size"] == len(content)
    assert receipt["policy"] == "lre-proof"
    assert receipt["tenant"] == "acme"
    deposited = datetime.fromisoformat(receipt["deposited_at"])
    until = datetime.fromisoformat(receipt["retention_until"])
    assert until.year - deposited.year == 10 and until.month == deposited.month
    assert receipt["journal_index"] >= 0
    assert response.headers["location"] == f"/v1/objects/{receipt['id']}"
    assert vault.store.exists(receipt["sha256"])


def test_content_comes_back_byte_for_byte_with_digest_headers(depositor):
    content = bytes(range(256)) * 1000
    receipt = depositor.deposit(content, filename="évidence.bin", media_type="application/octet-stream").json()
    response = depositor.get(f"/v1/objects/{receipt['id']}/content")
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == "application/octet-stream"
    sha256_b64 = base64.b64encode(hashlib.sha256(content).digest()).decode()
    assert f"sha-256=:{sha256_b64}:" in response.headers["repr-digest"]
    assert f"SHA-256={sha256_b64}" in response.headers["digest"]
    assert "UTF-8''%C3%A9vidence.bin" in response.headers["content-disposition"]


def test_metadata_read_returns_what_was_deposited(depositor):
    sent = days_ago(30) + timedelta(hours=9)  # declared at +01:00, shown in UTC
    receipt = depositor.deposit(
        b"<xml/>", filename="ev.xml", media_type="application/xml", case_ref="C-7", contract_number="K-9",
        kind="lre-evidence", event_type="receipt", event_time=sent.astimezone(PARIS_WINTER).isoformat(),
        sender="s@example.org",
        recipient="r@example.org", extra={"channel": "lre", "attempt": 2}).json()
    meta = depositor.get(f"/v1/objects/{receipt['id']}").json()
    assert meta["case_ref"] == "C-7" and meta["contract_number"] == "K-9"
    assert meta["kind"] == "lre-evidence" and meta["event_type"] == "receipt"
    assert meta["event_time"] == iso_z(sent)
    assert meta["sender"] == "s@example.org" and meta["recipient"] == "r@example.org"
    assert meta["extra"] == {"channel": "lre", "attempt": 2}
    assert meta["media_type"] == "application/xml" and meta["filename"] == "ev.xml"
    assert meta["sha256"] == receipt["sha256"]


def test_policy_starting_at_event_time_counts_from_the_event(vault_at):
    # deposited a month after a leap day: within email-proof's max_backdate (P1Y)
    _vault, _clock, admin = vault_at(datetime(2020, 3, 30, tzinfo=timezone.utc))
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    receipt = depositor.deposit(b"mail", policy="email-proof", event_time="2020-02-29T12:00:00Z").json()
    assert receipt["retention_start"] == "2020-02-29T12:00:00Z"
    assert receipt["retention_until"] == "2030-02-28T12:00:00Z"
    no_event = depositor.deposit(b"mail 2", policy="email-proof").json()
    assert no_event["retention_until"] is None and no_event["retention_start"] is None


def test_same_content_twice_is_stored_once_but_archived_twice(depositor, vault):
    first = depositor.deposit(b"same bytes", case_ref="A").json()
    second = depositor.deposit(b"same bytes", case_ref="B").json()
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    assert list(vault.store.addresses()).count(first["sha256"]) == 1
    assert vault.catalog.count() == 2


def test_idempotency_key_replays_the_same_receipt(depositor, vault):
    headers = {"Idempotency-Key": "retry-42"}
    first = depositor.deposit(b"once", headers=headers)
    again = depositor.deposit(b"once", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert vault.catalog.count() == 1


def test_journal_index_grows_with_each_deposit(depositor):
    first = depositor.deposit(b"one").json()["journal_index"]
    second = depositor.deposit(b"two").json()["journal_index"]
    assert second > first


def test_case_timeline_orders_by_event_time(depositor):
    base = days_ago(30) + timedelta(hours=8)
    for hours, event in ((5, "receipt"), (0, "deposit"), (2, "sending")):
        stamp = iso_z(base + timedelta(hours=hours))
        assert depositor.deposit(event.encode(), case_ref="LRE/2026/42", event_type=event, event_time=stamp).status_code == 201
    depositor.deposit(b"other case", case_ref="LRE/2026/43")
    response = depositor.get("/v1/cases/LRE%2F2026%2F42")
    assert response.status_code == 200, response.text
    case = response.json()
    assert case["count"] == 3
    assert [o["event_type"] for o in case["events"]] == ["deposit", "sending", "receipt"]


def test_unknown_case_is_404(depositor):
    response = depositor.get("/v1/cases/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_health_and_ready(client):
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "disk": "ok", "blob_store": "ok",
                                                                   "fixity": "ok", "tsa": "ok", "copies": "ok"}


def test_openapi_documents_the_deposit_form(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/objects"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert set(body["schema"]["required"]) == {"file", "metadata"}
    assert "/v1/cases/{case_ref}" in spec["paths"]


def test_idempotency_key_reused_for_other_content_is_409_and_stores_nothing(depositor, vault):
    assert depositor.deposit(b"first", headers={"Idempotency-Key": "k-1"}).status_code == 201
    count, blobs = vault.catalog.count(), sorted(vault.store.addresses())
    for response in (depositor.deposit(b"second", headers={"Idempotency-Key": "k-1"}),
                     depositor.deposit(b"first", case_ref="OTHER", headers={"Idempotency-Key": "k-1"})):
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:vault:problem:idempotency-conflict"
    assert (vault.catalog.count(), sorted(vault.store.addresses())) == (count, blobs)
    assert list(vault.store.tmp_dir.iterdir()) == []
