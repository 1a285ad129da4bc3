"""The report builder takes every shape of audit history, copy state and signature verdict without crashing, and
its lines stay valid against the published schema; and a report made after an audit flagged an object answers."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone

import jsonschema
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.test_reports import SCHEMA
from vault.reports.checks import verdict
from vault.reports.journal_checks import AUDIT_ACTIONS
from vault.reports.probative import Sources, signature_check, storage_checks

NOW = datetime(2026, 12, 6, tzinfo=timezone.utc)
CONTENT = b"proof"
SHA256 = hashlib.sha256(CONTENT).hexdigest()


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": SCHEMA["$defs"]})


CHECK, VERDICT = validator("check"), validator("verdict")
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=8)
# the journal's detail of an audit, with the keys an item has of its own among them
details = st.none() | json_values | st.fixed_dictionaries(
    {}, optional={k: json_values for k in ("detail", "name", "result", "sha256", "store", "lost", "bad")})
audits = st.lists(st.fixed_dictionaries({
    "seq": st.integers(min_value=0, max_value=2**40), "time": st.none() | st.just("2026-12-06T00:00:00Z"),
    "action": st.sampled_from(AUDIT_ACTIONS), "outcome": st.sampled_from([None, "ok", "denied"]),
    "detail": details}), max_size=5)
copy_states = st.lists(st.sampled_from(["good", "corrupt", "missing"]), min_size=1, max_size=3)
verdicts = st.lists(st.fixed_dictionaries({}, optional={
    "kind": st.sampled_from(["pades", "cades", "xades", "dkim", "smime"]),
    "verdict": st.sampled_from(["valid", "invalid", "indeterminate", None]),
    "signer": st.none() | st.text(max_size=20), "reason": st.none() | st.text(max_size=30),
    "validated_at": st.none() | st.just("2026-12-06T00:00:00Z")}), max_size=4)


def sources(states: list[str], recorded: list[bool]) -> Sources:
    stores = [f"store{i}" for i in range(len(states))]

    def read(store: str, sha256: str):
        state = states[stores.index(store)]
        if state == "missing":
            raise LookupError(store)
        return iter([CONTENT if state == "good" else b"rot"])

    rows = [{"store": s, "copied_at": NOW, "verified_at": NOW if i % 2 else None}
            for i, s in enumerate(stores) if recorded[i % len(recorded)]]
    return Sources(now=NOW, issuer="test", stores=stores, read=read, evidence_record=lambda seq: None,
                   seal_state=lambda seq: {}, validation_report=lambda oid: None, journal=None,
                   journal_verifier=None, copies=lambda sha256: rows, holds=lambda row: [],
                   policy=lambda i, v: None, tsa_roots=[])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(audits=audits, states=copy_states, recorded=st.lists(st.booleans(), min_size=1, max_size=3),
       verdicts=verdicts, destroyed=st.booleans())
def test_every_audit_copy_and_verdict_shape_makes_valid_report_lines(audits, states, recorded, verdicts, destroyed):
    row = {"id": "0190-object", "sha256": SHA256, "validation": verdicts,
           "validation_verdict": next((v.get("verdict") for v in verdicts if v.get("verdict")), None),
           "destroyed_at": NOW if destroyed else None}
    source = sources(states, recorded)
    primary = None if states[0] == "missing" else hashlib.sha256(CONTENT if states[0] == "good" else b"rot").hexdigest()
    checks = storage_checks(row, source, primary, audits) + [signature_check(row, source)]
    for line in checks:
        CHECK.validate(line)
    VERDICT.validate(verdict(checks))
    fixity = next(line for line in checks if line["id"] == "storage.fixity")
    assert [i["detail"] for i in fixity["items"]] == [str(a["detail"]) for a in audits]
    assert [i["seq"] for i in fixity["items"]] == [a["seq"] for a in audits]
    copies = next(line for line in checks if line["id"] == "storage.copies")
    if not destroyed and "good" not in states:
        assert copies["result"] == "fail"


def test_reports_answer_after_an_audit_flagged_the_object(vault, admin, depositor):
    receipt = depositor.deposit(b"%PDF-1.7 flagged by an audit", case_ref="FLAG-1", event_type="deposit").json()
    path = vault.store.path_for(receipt["sha256"])
    os.chmod(path, 0o644)
    path.write_bytes(b"%PDF-1.7 rotted")
    if len(vault.copies.stores) > 1:  # scaled: the RGW copy rots too, so the audit cannot repair it
        s3 = vault.copies.by_name("rgw")
        s3.client.put_object(Bucket=s3.bucket, Key=s3.key(receipt["sha256"]), Body=b"rot")
    assert admin.post("/v1/admin/audits", json={}).json()["lost"]
    report = depositor.get(f"/v1/objects/{receipt['id']}/report")
    assert report.status_code == 200, report.text
    fixity = next(line for line in report.json()["checks"] if line["id"] == "storage.fixity")
    assert [i["action"] for i in fixity["items"]] == ["fixity_audit"] and "found a bad copy" in fixity["detail"]
    assert report.json()["verdict"]["result"] == "fail"
    case = depositor.get("/v1/cases/FLAG-1/report")
    assert case.status_code == 200, case.text
