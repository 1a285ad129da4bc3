"""Search by business references and periods, with cursor pagination."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from tests.times import days_ago
from vault.clock import iso_z


def test_filters_combine(depositor):
    first = days_ago(90)

    def day(n: int) -> str:
        return iso_z(first + timedelta(days=n))

    depositor.deposit(b"1", case_ref="A", contract_number="K1", sender="s1", recipient="r1", event_type="sending",
                      event_time=day(0))
    depositor.deposit(b"2", case_ref="A", contract_number="K1", sender="s1", recipient="r2", event_type="receipt",
                      event_time=day(31))
    depositor.deposit(b"3", case_ref="B", contract_number="K2", sender="s2", recipient="r1", event_type="sending",
                      event_time=day(59))

    def cases(**params):
        response = depositor.get("/v1/objects", params=params)
        assert response.status_code == 200, response.text
        return sorted(o["case_ref"] + o["event_type"] for o in response.json()["items"])

    assert cases(case_ref="A") == ["Areceipt", "Asending"]
    assert cases(contract_number="K2") == ["Bsending"]
    assert cases(recipient="r1") == ["Asending", "Bsending"]
    assert cases(sender="s1", event_type="receipt") == ["Areceipt"]
    assert cases(**{"from": day(22)}) == ["Areceipt", "Bsending"]
    assert cases(**{"from": day(22), "to": (first + timedelta(days=50)).isoformat()}) == ["Areceipt"]  # +00:00
    assert cases(case_ref="nothing") == []


def test_cursor_pagination_visits_every_object_once(depositor):
    expected = [depositor.deposit(f"p{i}".encode(), case_ref="PAGED").json()["id"] for i in range(23)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"case_ref": "PAGED", "limit": 5, **({"cursor": cursor} if cursor else {})}
        page = depositor.get("/v1/objects", params=params).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == expected and pages == 5


def test_listing_without_filters_is_journaled_as_list(depositor, vault):
    from sqlalchemy import select

    from vault.db.tables import JournalEntry

    depositor.deposit(b"x")
    depositor.get("/v1/objects")
    with vault.reader.connect() as connection:
        last = connection.execute(select(JournalEntry.__table__).order_by(JournalEntry.__table__.c.seq.desc())).mappings().first()
    assert last["action"] == "list"


def test_a_search_item_is_the_object_view_and_sorted_pages_follow_their_cursor(depositor):
    """A page reads only the columns the view shows (vault.deposit.receipt.VIEW_COLUMNS): each item is still what
    ``GET /v1/objects/{id}`` shows, and a sorted page's cursor (its sort key) still works."""
    ids = [depositor.deposit(f"v{i}".encode(), case_ref="VIEWED", contract_number="K-9", sender="s@example.org",
                             recipient="r@example.org", event_type="sending", event_time=iso_z(days_ago(10 - i)),
                             extra={"n": i}).json()["id"] for i in range(3)]
    items = depositor.get("/v1/objects", params={"case_ref": "viewed"}).json()["items"]
    assert [item["id"] for item in items] == ids
    for item in items:
        whole = depositor.get(f"/v1/objects/{item['id']}").json()
        whole["format"] = {name: whole["format"][name] for name in item["format"]}  # + the PRONOM identification
        assert item == whole
    first = depositor.get("/v1/objects", params={"case_ref": "viewed", "sort": "-event_time", "limit": 2}).json()
    rest = depositor.get("/v1/objects", params={"case_ref": "viewed", "sort": "-event_time", "limit": 2,
                                                "cursor": first["next_cursor"]}).json()
    assert [item["id"] for item in first["items"] + rest["items"]] == ids[::-1] and rest["next_cursor"] is None


def test_search_count_and_facets_read_postgresql_without_a_transaction(vault, depositor):
    """One snapshot per statement either way (READ COMMITTED): in autocommit a search saves the BEGIN and the
    ROLLBACK round trips (vault.db.engine.statement_reads). SQLite keeps its read transaction."""
    depositor.deposit(b"1", case_ref="A", sender="s1")
    states = []

    @event.listens_for(vault.reader, "after_cursor_execute")
    def state(connection, _cursor, statement, *_):
        if "FROM archived_objects" not in statement:
            return  # the key's lookup, say
        driver = connection.connection.driver_connection
        states.append(driver.in_transaction if vault.reader.dialect.name == "sqlite" else
                      driver.info.transaction_status.name)

    answers = [depositor.get("/v1/objects", params={"case_ref": "a", "facets": "event_type"}),
               depositor.get("/v1/objects/count", params={"sender": "s1"})]
    event.remove(vault.reader, "after_cursor_execute", state)
    assert [a.status_code for a in answers] == [200, 200]
    assert len(answers[0].json()["items"]) == 1 and answers[1].json()["count"] == 1
    expected = True if vault.reader.dialect.name == "sqlite" else "IDLE"  # not INTRANS
    assert states and set(states) == {expected}, states

