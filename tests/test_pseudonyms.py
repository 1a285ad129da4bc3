"""Personal data in the journal: keyed pseudonyms in entries, clear values in an erasable table."""

from __future__ import annotations

import json

from sqlalchemy import select

from vault.db.tables import JournalEntry, JournalPseudonym
from vault.journal.audit import audit_journal


def entries(vault):
    table = JournalEntry.__table__
    with vault.reader.connect() as connection:
        return [json.loads(r.entry) for r in connection.execute(select(table.c.entry).order_by(table.c.seq))]


def clear_values(vault):
    table = JournalPseudonym.__table__
    with vault.reader.connect() as connection:
        return {r.pseudonym: r.value for r in connection.execute(select(table))}


def test_search_terms_are_journaled_as_pseudonyms(depositor, vault):
    depositor.deposit(b"x", case_ref="DUPONT-2026-1", sender="jean.dupont@example.org")
    depositor.get("/v1/objects", params={"case_ref": "DUPONT-2026-1", "sender": "jean.dupont@example.org",
                                         "event_type": "other"})
    depositor.get("/v1/cases/DUPONT-2026-1")
    log = json.dumps(entries(vault))
    assert "DUPONT" not in log and "dupont@example.org" not in log
    search = [e for e in entries(vault) if e["action"] == "search"][-1]
    filters = search["detail"]["filters"]
    assert filters["event_type"] == "other" and filters["case_ref"].startswith("p1:")
    assert clear_values(vault)[filters["case_ref"]] == "DUPONT-2026-1"
    assert clear_values(vault)[filters["sender"]] == "jean.dupont@example.org"
    case_view = [e for e in entries(vault) if e["action"] == "case_view"][-1]
    assert case_view["detail"]["filters"]["case_ref"] == filters["case_ref"]  # same term, same pseudonym


def test_erasure_forgets_the_clear_value_and_keeps_the_log_verifiable(depositor, admin, vault):
    depositor.get("/v1/objects", params={"sender": "marie.curie@example.org"})
    assert "marie.curie@example.org" in clear_values(vault).values()
    assert depositor.post("/v1/journal/erasures", json={"kind": "sender", "value": "marie.curie@example.org"}).status_code == 403
    response = admin.post("/v1/journal/erasures", json={"kind": "sender", "value": "marie.curie@example.org"})
    assert response.status_code == 200 and response.json()["erased"] is True
    assert "marie.curie@example.org" not in clear_values(vault).values()
    assert entries(vault)[-1]["action"] == "pseudonym_erased"
    assert "marie.curie" not in json.dumps(entries(vault))
    vault.checkpointer.checkpoint_now()
    assert audit_journal(vault.reader, vault.checkpointer.signer.verifier).ok
    again = admin.post("/v1/journal/erasures", json={"kind": "sender", "value": "marie.curie@example.org"})
    assert again.json()["erased"] is False
    assert admin.post("/v1/journal/erasures", json={"kind": "colour", "value": "x"}).status_code == 422
