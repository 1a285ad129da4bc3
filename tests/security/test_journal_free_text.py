"""Free text that can carry personal data — a search's media-type filter, a legal hold's reference and reason —
enters the append-only journal only as erasable keyed pseudonyms (issue #18), as parties and case references do."""

from __future__ import annotations

import json

from sqlalchemy import select

from vault.db.tables import JournalEntry, JournalPseudonym


def _log(vault) -> str:
    table = JournalEntry.__table__
    with vault.reader.connect() as connection:
        return "\n".join(bytes(r.entry).decode() for r in connection.execute(select(table.c.entry)))


def _clear(vault) -> dict[str, str]:
    table = JournalPseudonym.__table__
    with vault.reader.connect() as connection:
        return {r.pseudonym: r.value for r in connection.execute(select(table))}


def _last(vault, action: str) -> dict:
    return [json.loads(line) for line in _log(vault).splitlines() if f'"action":"{action}"' in line][-1]


def test_a_search_format_filter_is_a_pseudonym(depositor, vault):
    typed = "application/x-dupont-jean-medical-file"
    assert depositor.get("/v1/objects", params={"format": typed, "kind": "other"}).status_code == 200
    assert typed not in _log(vault)
    filters = _last(vault, "search")["detail"]["filters"]
    assert filters["kind"] == "other" and filters["format"].startswith("p1:")
    assert _clear(vault)[filters["format"]] == typed


def test_a_hold_reference_and_reason_are_pseudonyms_and_erasable(admin, vault):
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    depositor.deposit(b"%PDF-1.7 held", case_ref="HOLD-FT-1")
    reference, reason = "RG 26/4471 Dupont v. Acme", "Jean Dupont's dismissal dispute"
    hold = archivist.post("/v1/holds", json={"case_ref": "HOLD-FT-1", "reason": reason, "reference": reference})
    assert hold.status_code == 201, hold.text
    assert archivist.client.delete(f"/v1/holds/{hold.json()['id']}", headers=archivist.headers()).status_code == 200
    log = _log(vault)
    assert reference not in log and reason not in log and "Dupont" not in log
    set_, released = _last(vault, "hold_set")["detail"], _last(vault, "hold_released")["detail"]
    assert _clear(vault)[set_["reference"]] == reference and _clear(vault)[set_["reason"]] == reason
    assert released["reference"] == set_["reference"]  # the same hold, followed across entries
    for kind, value in (("hold_reference", reference), ("hold_reason", reason)):
        erased = admin.post("/v1/journal/erasures", json={"kind": kind, "value": value})
        assert erased.status_code == 200 and erased.json()["erased"] is True
    assert reference not in _clear(vault).values() and reason not in _clear(vault).values()
