"""Issue #18: a depositor of acme depositing for tenant globex is refused (403), and the refusal is journaled."""

from __future__ import annotations


def test_a_deposit_for_another_tenant_is_refused_and_journaled(admin, depositor, vault):
    before = vault.catalog.count()
    response = depositor.deposit(b"%PDF-1.7 for globex", tenant="globex")
    assert response.status_code == 403 and response.json()["type"].endswith("wrong-tenant"), response.text
    assert vault.catalog.count() == before
    denied = admin.get("/v1/journal/entries", params={"action": "access_denied"}).json()["entries"]
    [entry] = [e for e in denied if e["detail"].get("route") == "/v1/objects"]
    assert entry["detail"]["permission"] == "deposit" and "'globex'" in entry["detail"]["reason"]
    assert entry["tenant"] == "acme" and entry["outcome"] == "denied"
