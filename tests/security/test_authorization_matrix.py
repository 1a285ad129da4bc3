"""The authorization matrix, generated from the one route table (vault/api/access.py): every route × every role
× the caller's own tenant or another's, plus no key and a wrong key.

For each cell the expected answer follows from the table alone: 401 without a valid key; 403 for a role whose
grants lack a permission of the route (or a tenant key on a platform operation); for an allowed role, never
401/403 on its own tenant's resources and never a 2xx on another tenant's. Every 401 and 403 must be journaled
as ``access_denied`` with the caller, and no 2xx answered to a tenant key may name another tenant's object, case,
hold, batch or key (0 cross-tenant reads). A route added to the table without a request here fails the test.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from vault.api.access import ROUTES
from vault.api.app import create_app
from vault.app import Vault
from vault.auth.roles import Role
from vault.clock import FixedClock
from vault.db.tables import JournalEntry

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
TENANTS = ("acme", "globex")
ENTRIES = JournalEntry.__table__


def _deposit(api: Api, tenant: str, content: bytes, case_ref: str, now: datetime) -> str:
    response = api.deposit(content, tenant=tenant, case_ref=case_ref, event_type="sending",
                           event_time=(now - timedelta(days=1)).isoformat(), sender=f"s@{tenant}.example",
                           recipient=f"r@{tenant}.example")
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two tenants, each with an object under retention, one under a hold, one due and proposed for destruction
    (ten years later), a depositor key to manage, and one key of every role; plus platform keys."""
    tmp_path = tmp_path_factory.mktemp("matrix")
    clock = FixedClock(START)
    vault = Vault.open(make_settings(tmp_path, "", seal_interval=3600.0), clock, sweep_in_background=False,
                       background_jobs=False)
    client = TestClient(create_app(vault))
    admin = Api(client, ADMIN_KEY)
    resources = {}
    for tenant in TENANTS:
        proposer = admin.as_key(admin.new_key("archivist", tenant, holder=f"proposer@{tenant}.example"))
        due = _deposit(admin, tenant, f"due {tenant}".encode(), f"DUE-{tenant}", clock.now())
        resources[tenant] = {"proposer": proposer, "due": due}
    clock.advance(timedelta(days=365 * 11))  # the first deposits are due; every key is years old
    callers = {}
    for tenant in TENANTS:
        r = resources[tenant]
        r["object"] = _deposit(admin, tenant, f"proof {tenant}".encode(), f"CASE-{tenant}", clock.now())
        r["held"] = _deposit(admin, tenant, f"held {tenant}".encode(), f"HELD-{tenant}", clock.now())
        r["case"] = f"CASE-{tenant}"
        hold = r["proposer"].post("/v1/holds", json={"tenant": tenant, "object_ids": [r["held"]],
                                                     "reason": "dispute", "reference": f"REF-{tenant}"})
        assert hold.status_code == 201, hold.text
        r["hold"] = hold.json()["id"]
        batch = r["proposer"].post("/v1/disposal/batches", json={"tenant": tenant, "object_ids": [r["due"]]})
        assert batch.status_code == 201, batch.text
        r["batch"] = batch.json()["id"]
        victim = admin.post("/v1/keys", json={"role": "depositor", "tenant": tenant, "label": "victim"})
        r["key"] = victim.json()["key_id"]
        for role in Role:
            if role == Role.ADMIN and tenant == "globex":
                continue
            callers[(role.value, tenant)] = admin.as_key(admin.new_key(role.value, tenant))
    for role in (Role.ADMIN, Role.AUDITOR, Role.ARCHIVIST):
        callers[(role.value, "*")] = admin.as_key(admin.new_key(role.value, "*"))
    clock.advance(timedelta(days=30))
    vault.seal_scheduler.seal_all_pending()
    vault.checkpointer.checkpoint_now()
    yield vault, client, callers, resources
    vault.close()


def _deposit_form(tenant: str) -> dict:
    metadata = {"case_ref": "MATRIX", "policy": "lre-proof", "tenant": tenant}
    return {"files": {"file": ("m.pdf", b"%PDF-1.7 matrix", "application/pdf"),
                      "metadata": (None, json.dumps(metadata), "application/json")}}


def _etsi(operation: str, **message) -> tuple[str, dict]:
    return f"/etsi/119512/v1/{operation}", {"json": message}


_ETSI_PO = [{"binaryData": {"value": "JVBERi0xLjcgbWF0cml4"}, "mimeType": "application/pdf"}]  # %PDF-1.7 matrix
_ETSI_EVIDENCE = {"ev": {"binaryData": {"value": "MAA="}}, "po": _ETSI_PO}


def _hold_body(t: str, r: dict) -> dict:
    return {"json": {"tenant": t, "object_ids": [r["held"]], "reason": "matrix", "reference": "M-1"}}


# (method, path) → how to call it for the resources ``r`` of tenant ``t``; None: the route has no tenant of its own
# (a platform or journal-wide read), so there is no "other tenant" cell.
REQUESTS = {
    ("POST", "/v1/objects"): lambda t, r: ("/v1/objects", _deposit_form(t)),
    ("GET", "/v1/objects"): lambda t, r: ("/v1/objects", {"params": {"tenant": t}}),
    ("GET", "/v1/objects/count"): lambda t, r: ("/v1/objects/count", {"params": {"tenant": t}}),
    ("GET", "/v1/objects/{object_id}"): lambda t, r: (f"/v1/objects/{r['object']}", {}),
    ("GET", "/v1/objects/{object_id}/content"): lambda t, r: (f"/v1/objects/{r['object']}/content", {}),
    ("GET", "/v1/objects/{object_id}/validation-report"): lambda t, r: (f"/v1/objects/{r['object']}/validation-report", {}),
    ("GET", "/v1/objects/{object_id}/receipt"): lambda t, r: (f"/v1/objects/{r['object']}/receipt", {}),
    ("GET", "/v1/objects/{object_id}/metadata-record"): lambda t, r: (f"/v1/objects/{r['object']}/metadata-record", {}),
    ("GET", "/v1/objects/{object_id}/disclosures"): lambda t, r: (f"/v1/objects/{r['object']}/disclosures", {}),
    ("GET", "/v1/objects/{object_id}/metadata-records"): lambda t, r: (f"/v1/objects/{r['object']}/metadata-records", {}),
    ("GET", "/v1/objects/{object_id}/metadata-records/{version}/evidence-record"): lambda t, r: (
        f"/v1/objects/{r['object']}/metadata-records/1/evidence-record", {}),
    ("POST", "/v1/objects/{object_id}/corrections"): lambda t, r: (
        f"/v1/objects/{r['object']}/corrections", {"json": {"changes": {"contract_number": "K-M"}, "reason": "matrix"}}),
    ("POST", "/v1/objects/{object_id}/erasure"): lambda t, r: (
        f"/v1/objects/{r['object']}/erasure", {"json": {"fields": ["sender"], "reason": "matrix"}}),
    ("POST", "/v1/objects/{object_id}/restriction"): lambda t, r: (f"/v1/objects/{r['object']}/restriction",
                                                                   {"json": {"reason": "matrix"}}),
    ("DELETE", "/v1/objects/{object_id}/restriction"): lambda t, r: (f"/v1/objects/{r['object']}/restriction",
                                                                     {"json": {"reason": "matrix"}}),
    ("GET", "/v1/objects/{object_id}/evidence-record"): lambda t, r: (f"/v1/objects/{r['object']}/evidence-record", {}),
    ("GET", "/v1/objects/{object_id}/report"): lambda t, r: (f"/v1/objects/{r['object']}/report", {}),
    ("GET", "/v1/objects/{object_id}/package"): lambda t, r: (f"/v1/objects/{r['object']}/package", {}),
    ("GET", "/v1/cases/{case_ref:path}"): lambda t, r: (f"/v1/cases/{r['case']}", {"params": {"tenant": t}}),
    ("GET", "/v1/cases/{case_ref:path}/report"): lambda t, r: (f"/v1/cases/{r['case']}/report", {"params": {"tenant": t}}),
    ("GET", "/v1/cases/{case_ref:path}/package"): lambda t, r: (f"/v1/cases/{r['case']}/package", {"params": {"tenant": t}}),
    ("GET", "/v1/packages"): lambda t, r: ("/v1/packages", {"params": {"tenant": t, "case_ref": r["case"]}}),
    ("GET", "/v1/alerts"): lambda t, r: ("/v1/alerts", {"params": {"tenant": t}}),
    ("GET", "/v1/kpis"): lambda t, r: ("/v1/kpis", {"params": {"tenant": t}}),
    ("GET", "/v1/formats"): lambda t, r: ("/v1/formats", {"params": {"tenant": t}}),
    ("GET", "/v1/consents/{subject:path}"): lambda t, r: (f"/v1/consents/r@{t}.example", {"params": {"tenant": t}}),
    ("GET", "/v1/policies"): None,
    ("PATCH", "/v1/objects/{object_id}/retention-start"): lambda t, r: (
        f"/v1/objects/{r['object']}/retention-start", {"json": {"at": "2036-01-01T00:00:00Z"}}),
    ("POST", "/v1/objects/{object_id}/policy"): lambda t, r: (f"/v1/objects/{r['object']}/policy",
                                                              {"json": {"policy": "lre-proof"}}),
    ("DELETE", "/v1/objects/{object_id}"): lambda t, r: (f"/v1/objects/{r['object']}", {}),
    ("POST", "/v1/holds"): lambda t, r: ("/v1/holds", _hold_body(t, r)),
    ("GET", "/v1/holds"): None,
    ("GET", "/v1/holds/{hold_id}"): lambda t, r: (f"/v1/holds/{r['hold']}", {}),
    ("DELETE", "/v1/holds/{hold_id}"): lambda t, r: (f"/v1/holds/{r['hold']}", {}),
    ("GET", "/v1/disposal/due"): lambda t, r: ("/v1/disposal/due", {"params": {"tenant": t}}),
    ("GET", "/v1/disposal/batches"): lambda t, r: ("/v1/disposal/batches", {"params": {"tenant": t}}),
    ("POST", "/v1/disposal/batches"): lambda t, r: ("/v1/disposal/batches", {"json": {"tenant": t, "object_ids": [r["due"]]}}),
    ("GET", "/v1/disposal/batches/{batch_id}"): lambda t, r: (f"/v1/disposal/batches/{r['batch']}", {}),
    ("POST", "/v1/disposal/batches/{batch_id}/approve"): lambda t, r: (f"/v1/disposal/batches/{r['batch']}/approve", {}),
    ("POST", "/v1/disposal/batches/{batch_id}/execute"): lambda t, r: (f"/v1/disposal/batches/{r['batch']}/execute", {}),
    ("POST", "/v1/disposal/batches/{batch_id}/veto"): lambda t, r: (f"/v1/disposal/batches/{r['batch']}/veto",
                                                                   {"json": {"reason": "matrix"}}),
    ("GET", "/v1/disposal/batches/{batch_id}/certificate"): lambda t, r: (f"/v1/disposal/batches/{r['batch']}/certificate", {}),
    ("GET", "/v1/disposal/batches/{batch_id}/certificate.pdf"): lambda t, r: (
        f"/v1/disposal/batches/{r['batch']}/certificate.pdf", {}),
    ("POST", "/v1/keys"): lambda t, r: ("/v1/keys", {"json": {"role": "depositor", "tenant": t}}),
    ("GET", "/v1/keys"): lambda t, r: ("/v1/keys", {"params": {"tenant": t}}),
    ("GET", "/v1/keys/{key_id}"): lambda t, r: (f"/v1/keys/{r['key']}", {}),
    ("DELETE", "/v1/keys/{key_id}"): lambda t, r: (f"/v1/keys/{r['key']}", {}),
    ("POST", "/v1/keys/{key_id}/rotate"): lambda t, r: (f"/v1/keys/{r['key']}/rotate", {"json": {"overlap": "PT0S"}}),
    # the ETSI TS 119 512 binding (tenant-scoped operations)
    ("POST", "/etsi/119512/v1/PreservePO"): lambda t, r: _etsi(
        "PreservePO", pro="urn:vault:etsi:119512:profile:lre-proof", po=_ETSI_PO,
        optIn={"vault:Metadata": {"case_ref": "MATRIX", "tenant": t}}),
    ("POST", "/etsi/119512/v1/Search"): lambda t, r: _etsi("Search", fi=f"case_ref={r['case']}",
                                                           optIn={"vault:Tenant": t}),
    ("POST", "/etsi/119512/v1/RetrievePO"): lambda t, r: _etsi("RetrievePO", poId=r["object"]),
    ("POST", "/etsi/119512/v1/DeletePO"): lambda t, r: _etsi("DeletePO", poId=r["due"]),
    ("POST", "/etsi/119512/v1/UpdatePOC"): lambda t, r: _etsi("UpdatePOC", poId=r["object"], optIn={
        "vault:Changes": {"contract_number": "K-E"}, "vault:Reason": "matrix"}),
    ("POST", "/etsi/119512/v1/RetrieveTrace"): lambda t, r: _etsi("RetrieveTrace", poId=r["object"]),
    ("POST", "/etsi/119512/v1/RetrieveInfo"): None,
    ("POST", "/etsi/119512/v1/ValidateEvidence"): None,
    ("POST", "/v1/validate"): None,
    ("GET", "/journal/checkpoint"): None,
    ("GET", "/journal/tile/{path:path}"): None,
    ("GET", "/v1/journal/key"): None,
    ("GET", "/v1/journal/anchors"): None,
    ("GET", "/v1/journal/handovers"): None,
    ("GET", "/v1/journal/proof/inclusion"): None,
    ("GET", "/v1/journal/proof/consistency"): None,
    ("GET", "/v1/journal/entries"): None,
    ("GET", "/v1/journal/export"): None,
    ("POST", "/v1/journal/erasures"): None,
    ("POST", "/v1/admin/reseal"): None,
    ("GET", "/v1/admin/crypto-inventory"): None,
    ("POST", "/v1/admin/audits"): None,
    ("GET", "/v1/admin/audits/status"): None,
    ("POST", "/v1/sandbox/clock"): None,
}

# The console (vault/console): the same cells, made by a browser signed in with the caller's key (a session cookie,
# the session's CSRF token in every form) instead of a bearer header.
CONSOLE_REQUESTS = {
    ("GET", "/ui/search"): lambda t, r: ("/ui/search", {"params": {"tenant": t, "case_ref": r["case"]}}),
    ("GET", "/ui/cases/{case_ref:path}"): lambda t, r: (f"/ui/cases/{r['case']}", {"params": {"tenant": t}}),
    ("GET", "/ui/objects/{object_id}"): lambda t, r: (f"/ui/objects/{r['object']}", {}),
    ("GET", "/ui/objects/{object_id}/content"): lambda t, r: (f"/ui/objects/{r['object']}/content", {}),
    ("GET", "/ui/objects/{object_id}/evidence-record"): lambda t, r: (f"/ui/objects/{r['object']}/evidence-record", {}),
    ("GET", "/ui/objects/{object_id}/package"): lambda t, r: (f"/ui/objects/{r['object']}/package", {}),
    ("GET", "/ui/holds"): None,
    ("POST", "/ui/holds"): lambda t, r: ("/ui/holds", {"data": {"tenant": t, "object_id": r["held"],
                                                               "reason": "matrix", "reference": "M-2"}}),
    ("POST", "/ui/holds/{hold_id}/release"): lambda t, r: (f"/ui/holds/{r['hold']}/release", {"data": {}}),
    ("GET", "/ui/disposal"): lambda t, r: ("/ui/disposal", {"params": {"tenant": t}}),
    ("POST", "/ui/disposal/batches"): lambda t, r: ("/ui/disposal/batches", {"data": {"tenant": t, "object_id": r["due"]}}),
    ("GET", "/ui/disposal/batches/{batch_id}"): lambda t, r: (f"/ui/disposal/batches/{r['batch']}", {}),
    ("POST", "/ui/disposal/batches/{batch_id}/approve"): lambda t, r: (f"/ui/disposal/batches/{r['batch']}/approve",
                                                                      {"data": {}}),
    ("POST", "/ui/disposal/batches/{batch_id}/execute"): lambda t, r: (f"/ui/disposal/batches/{r['batch']}/execute",
                                                                      {"data": {}}),
    ("POST", "/ui/disposal/batches/{batch_id}/veto"): lambda t, r: (f"/ui/disposal/batches/{r['batch']}/veto",
                                                                   {"data": {"reason": "matrix"}}),
    ("GET", "/ui/disposal/batches/{batch_id}/certificate.pdf"): lambda t, r: (
        f"/ui/disposal/batches/{r['batch']}/certificate.pdf", {}),
    ("GET", "/ui/journal"): None,
    ("POST", "/ui/journal/verify"): None,
    ("GET", "/ui/journal/export.zip"): None,
    ("GET", "/ui/keys"): None,
    ("POST", "/ui/keys"): lambda t, r: ("/ui/keys", {"data": {"role": "depositor", "tenant": t}}),
    ("POST", "/ui/keys/{key_id}/revoke"): lambda t, r: (f"/ui/keys/{r['key']}/revoke", {"data": {}}),
    ("POST", "/ui/keys/{key_id}/rotate"): lambda t, r: (f"/ui/keys/{r['key']}/rotate", {"data": {}}),
    ("GET", "/ui/policies"): None,
    ("GET", "/ui/inventory"): None,
    ("GET", "/ui/alerts"): lambda t, r: ("/ui/alerts", {"params": {"tenant": t}}),
    ("GET", "/ui/kpis"): lambda t, r: ("/ui/kpis", {"params": {"tenant": t}}),
}
REQUESTS.update(CONSOLE_REQUESTS)

# Routes with no tenant of their own: one request, made as every caller.
NEUTRAL = {
    ("GET", "/v1/policies"): ("/v1/policies", {}),
    ("GET", "/v1/holds"): ("/v1/holds", {}),
    ("GET", "/journal/checkpoint"): ("/journal/checkpoint", {}),
    ("GET", "/journal/tile/{path:path}"): ("/journal/tile/0/000.p/1", {}),
    ("GET", "/v1/journal/key"): ("/v1/journal/key", {}),
    ("GET", "/v1/journal/anchors"): ("/v1/journal/anchors", {}),
    ("GET", "/v1/journal/handovers"): ("/v1/journal/handovers", {}),
    ("GET", "/v1/journal/proof/inclusion"): ("/v1/journal/proof/inclusion", {"params": {"index": 0, "size": 1}}),
    ("GET", "/v1/journal/proof/consistency"): ("/v1/journal/proof/consistency", {"params": {"old": 1, "new": 1}}),
    ("GET", "/v1/journal/entries"): ("/v1/journal/entries", {"params": {"limit": 1000}}),
    ("GET", "/v1/journal/export"): ("/v1/journal/export", {}),
    ("POST", "/v1/journal/erasures"): ("/v1/journal/erasures", {"json": {"kind": "sender", "value": "nobody@x.example"}}),
    ("POST", "/v1/admin/reseal"): ("/v1/admin/reseal", {"json": {"kind": "seal"}}),
    ("GET", "/v1/admin/crypto-inventory"): ("/v1/admin/crypto-inventory", {}),
    ("POST", "/v1/admin/audits"): ("/v1/admin/audits", {"json": {"sample": 1}}),
    ("GET", "/v1/admin/audits/status"): ("/v1/admin/audits/status", {}),
    ("POST", "/etsi/119512/v1/RetrieveInfo"): _etsi("RetrieveInfo"),
    ("POST", "/etsi/119512/v1/ValidateEvidence"): _etsi("ValidateEvidence", **_ETSI_EVIDENCE),
    ("POST", "/v1/validate"): ("/v1/validate", {"json": _ETSI_EVIDENCE}),
    ("POST", "/v1/sandbox/clock"): ("/v1/sandbox/clock", {"json": {"advance": "P1D"}}),  # 404: not a sandbox
    ("GET", "/ui/holds"): ("/ui/holds", {}),
    ("GET", "/ui/journal"): ("/ui/journal", {}),
    ("POST", "/ui/journal/verify"): ("/ui/journal/verify", {"data": {}}),
    ("GET", "/ui/journal/export.zip"): ("/ui/journal/export.zip", {}),
    ("GET", "/ui/keys"): ("/ui/keys", {}),
    ("GET", "/ui/policies"): ("/ui/policies", {}),
    ("GET", "/ui/inventory"): ("/ui/inventory", {}),
}

PUBLIC_REQUESTS = {
    ("GET", "/v1/archive/key"): ("/v1/archive/key", {}),
    ("GET", "/v1/tsa/roots"): ("/v1/tsa/roots", {}),
    ("GET", "/v1/tsa/crl"): ("/v1/tsa/crl", {}),
    ("POST", "/v1/tsa"): ("/v1/tsa", {"content": b"not a request"}),
    ("GET", "/health"): ("/health", {}),
    ("GET", "/ready"): ("/ready", {}),
    ("GET", "/metrics"): ("/metrics", {}),
    ("GET", "/docs"): ("/docs", {}),
    ("GET", "/"): ("/", {}),
    ("GET", "/ui/"): ("/ui/", {}),
    ("GET", "/ui/sign-in"): ("/ui/sign-in", {}),
    ("POST", "/ui/sign-in"): ("/ui/sign-in", {"data": {"api_key": "vault_" + "x" * 43, "csrf": "none"}}),
    ("POST", "/ui/sign-out"): ("/ui/sign-out", {"data": {"csrf": "none"}}),
}


def test_every_route_of_the_table_has_a_request():
    protected = {key for key, rule in ROUTES.items() if not rule.public}
    assert set(REQUESTS) == protected
    assert set(PUBLIC_REQUESTS) == {key for key, rule in ROUTES.items() if rule.public}
    assert {key for key, build in REQUESTS.items() if build is None} == set(NEUTRAL)


def _last_entry(vault) -> dict:
    with vault.reader.connect() as connection:
        row = connection.execute(select(ENTRIES.c.entry).order_by(ENTRIES.c.seq.desc()).limit(1)).first()
    return json.loads(row.entry)


_browsers: dict[str, tuple[TestClient, str]] = {}


def _signed_in(client: TestClient, key: str) -> tuple[TestClient, str] | TestClient:
    """A browser (its own cookie jar) signed in to the console with ``key`` and the session's CSRF token, or, when
    the sign-in is refused, the refusal."""
    if key not in _browsers:
        browser = TestClient(client.app, follow_redirects=False)
        form = browser.get("/ui/sign-in")
        signed = browser.post("/ui/sign-in", data={"api_key": key, "csrf": form.cookies.get("vault_signin", "")})
        if signed.status_code != 303:
            return signed
        page = browser.get("/ui/search").text  # any page, even a refusal, has the sign-out form and its token
        _browsers[key] = (browser, re.search(r'name="csrf" value="([^"]+)"', page).group(1))
    return _browsers[key]


def _call(client: TestClient, method: str, url: str, key: str | None, kwargs: dict):
    if url.startswith("/ui/"):
        if key is None:
            return TestClient(client.app, follow_redirects=False).request(method, url, **kwargs)
        signed = _signed_in(client, key)
        if not isinstance(signed, tuple):
            return signed
        browser, csrf = signed
        if method == "POST":
            kwargs = {**kwargs, "data": {**kwargs.get("data", {}), "csrf": csrf}}
        return browser.request(method, url, **kwargs)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.request(method, url, headers=headers, **kwargs)


def _foreign_ids(resources: dict, tenant: str) -> list[str]:
    other = resources["globex" if tenant == "acme" else "acme"]
    return [other[name] for name in ("object", "held", "due", "hold", "batch", "key", "case")]


@pytest.mark.parametrize("route", sorted(k for k in ROUTES if not ROUTES[k].public), ids=" ".join)
def test_matrix(world, route):
    vault, client, callers, resources = world
    rule = ROUTES[route]
    method, _ = route
    cells = []
    if REQUESTS[route] is None:
        url, kwargs = NEUTRAL[route]
        cells += [(caller, tenant, "own", url, kwargs) for (_, tenant), caller in callers.items()]
    else:
        for (role, tenant), caller in callers.items():
            for owner in (TENANTS if tenant == "*" else (tenant, "globex" if tenant == "acme" else "acme")):
                url, kwargs = REQUESTS[route](owner, resources[owner])
                cells.append((caller, tenant, "own" if tenant in ("*", owner) else "other", url, kwargs))
    url, kwargs = cells[0][3], cells[0][4]
    for key in (None, "vault_" + "x" * 43):
        response = _call(client, method, url, key, kwargs)
        if key is None and url.startswith("/ui/"):  # no session: to the sign-in form, nothing served or journaled
            assert response.status_code == 303 and response.headers["location"].startswith("/ui/sign-in"), route
            continue
        assert response.status_code == 401, (route, response.text)
        denied = _last_entry(vault)
        assert (denied["action"], denied["actor"]) == ("access_denied", "anonymous")
    failures = []
    for caller, tenant, relation, url, kwargs in cells:
        principal = vault.keys.resolve(caller.key)
        response = _call(client, method, url, caller.key, kwargs)
        status = response.status_code
        cell = f"{method} {url} as {principal.role.value}@{tenant} ({relation}): {status} {response.text[:200]}"
        allowed = principal.role in rule.roles and (not rule.platform_only or tenant == "*")
        if status >= 500:
            failures.append("server error: " + cell)
        elif not allowed and status != 403:
            failures.append("expected 403: " + cell)
        elif allowed and relation == "own" and status in (401, 403):
            failures.append("expected access: " + cell)
        elif allowed and relation == "other" and status < 400:
            failures.append("cross-tenant access: " + cell)
        if status in (401, 403):
            denied = _last_entry(vault)
            if (denied["action"], denied["actor"]) != ("access_denied", principal.key_id):
                failures.append(f"denial not journaled: {cell}: last entry {denied}")
        if tenant != "*" and 200 <= status < 300:
            body = response.content.decode("latin-1")
            leaked = [value for value in _foreign_ids(resources, tenant) if value in body]
            if leaked:
                failures.append(f"cross-tenant read of {leaked}: {cell}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("route", sorted(k for k in ROUTES if ROUTES[k].public), ids=" ".join)
def test_public_routes_need_no_key(world, route):
    _vault, client, _callers, _resources = world
    url, kwargs = PUBLIC_REQUESTS[route]
    response = _call(client, route[0], url, None, kwargs)
    assert response.status_code not in (401, 403) and response.status_code < 500, response.text
