"""Alembic migrations: they build exactly the schema the tables describe, on SQLite and PostgreSQL, and undo it."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import column as sa_column
from sqlalchemy import insert, inspect, select
from sqlalchemy import table as sa_table

from vault.db.engine import make_engine
from vault.db.migrate import current_revision, downgrade, head_revision, upgrade
from vault.db.tables import ArchivedObject, TrackerState, metadata
from vault.ids import new_object_id

TABLES = {"archived_objects", "api_keys", "journal_entries", "idempotency_records"}


@pytest.fixture
def engine(database_url, tmp_path):
    """An engine on an empty database (SQLite file or fresh PostgreSQL database)."""
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_upgrade_matches_the_models_and_downgrade_removes_everything(engine):
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    assert diff == [], f"migrations and models differ: {diff}"
    upgrade(engine)  # idempotent
    downgrade(engine, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    assert current_revision(engine) is None


def test_simultaneous_upgrades_all_succeed(database_url, tmp_path):
    """Replicas starting together each run the migrations: one migrates, the others wait and find it done."""
    (tmp_path / "data").mkdir(exist_ok=True)
    engines = [make_engine(database_url) for _ in range(3)]
    start = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def start_replica(engine) -> None:
        start.wait()
        try:
            upgrade(engine)
        except BaseException as exc:  # noqa: BLE001 — reported below
            failures.append(exc)

    threads = [threading.Thread(target=start_replica, args=(e,), daemon=True) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    try:
        assert not any(t.is_alive() for t in threads), "replicas still migrating after 300 s (deadlocked)"
        assert failures == [] and all(current_revision(e) == head_revision() for e in engines)
    finally:
        for engine in engines:
            engine.dispose()


def test_indexes_for_business_searches_exist(engine):
    upgrade(engine)
    indexed = {tuple(index["column_names"]) for index in inspect(engine).get_indexes("archived_objects")}
    for columns in [("tenant", "case_ref", "timeline_at"), ("tenant", "contract_number"), ("tenant", "sender"),
                    ("tenant", "recipient"), ("tenant", "timeline_at")]:
        assert columns in indexed


def test_0002_numbers_existing_objects_in_deposit_order(engine):
    upgrade(engine, "0001")
    table = ArchivedObject.__table__
    now = datetime.now(timezone.utc)
    ids = [new_object_id() for _ in range(3)]
    row = dict(tenant="t", case_ref="c", kind="other", event_type="other", timeline_at=now, media_type="x",
               size=1, sha256="0" * 64, sha512="0" * 128, policy_id="p", policy_version=1, deposited_at=now,
               depositor="k", extra={}, status="active", journal_index=0)
    before_0002 = sa_table("archived_objects", *[sa_column(c.name, c.type) for c in table.c if c.name != "seal_seq"])
    with engine.begin() as connection:
        for object_id in reversed(ids):  # inserted out of order: numbering must follow the ids
            connection.execute(insert(before_0002).values(id=object_id, **row))
    upgrade(engine)
    with engine.connect() as connection:
        numbered = connection.execute(select(table.c.id, table.c.seal_seq).order_by(table.c.seal_seq)).all()
    assert [r.id for r in numbered] == ids and [r.seal_seq for r in numbered] == [0, 1, 2]


def test_0024_backfills_the_search_keys_of_existing_objects(engine):
    upgrade(engine, "0023")
    table = ArchivedObject.__table__
    now = datetime.now(timezone.utc)
    keyed = {"case_ref_key", "contract_number_key", "sender_key", "recipient_key"}
    before = sa_table("archived_objects", *[sa_column(c.name, c.type) for c in table.c if c.name not in keyed])
    object_id = new_object_id()
    with engine.begin() as connection:
        connection.execute(insert(before).values(
            id=object_id, tenant="t", case_ref="LRE-2026-Straße", contract_number=None, sender="A@Example.ORG",
            recipient="b@example.org", kind="other", event_type="other", timeline_at=now, media_type="x", size=1,
            sha256="0" * 64, sha512="0" * 128, policy_id="p", policy_version=1, deposited_at=now, depositor="k",
            extra={}, status="active", journal_index=0, seal_seq=0))
    upgrade(engine)
    with engine.connect() as connection:
        row = connection.execute(select(*(table.c[k] for k in sorted(keyed)))).mappings().one()
    assert dict(row) == {"case_ref_key": "lre-2026-strasse", "contract_number_key": None,
                         "recipient_key": "b@example.org", "sender_key": "a@example.org"}


def test_0023_restarts_the_kpi_fold_from_the_deposits(engine):
    """0023 replaces the per-day KPI counts by spans: the derived case facts and the fold's watermark are cleared
    (the fold rebuilds them from the deposits), other followers keep their place."""
    upgrade(engine, "0022")
    cases, state = sa_table("kpi_cases", sa_column("tenant"), sa_column("case_ref")), TrackerState.__table__
    with engine.begin() as connection:
        connection.execute(insert(cases).values(tenant="t", case_ref="c"))
        connection.execute(insert(state), [{"name": "kpis", "position": 7}, {"name": "cases", "position": 7}])
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(select(cases.c.tenant)).all() == []
        assert connection.execute(select(state.c.name, state.c.position)).all() == [("cases", 7)]
    assert {"kpi_spans", "kpi_span_delays"} <= set(inspect(engine).get_table_names())
    assert "kpi_days" not in inspect(engine).get_table_names()


def test_0025_backfills_a_metadata_record_per_existing_object(engine):
    """Existing objects get version 1 of their record, personal fields as commitments their disclosures open."""
    from vault.db.tables import MetadataDisclosureRow, MetadataRecordRow
    from vault_verify.metadata import check_disclosure, parse_record
    import json
    upgrade(engine, "0024")
    table = ArchivedObject.__table__
    now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    ids = [new_object_id() for _ in range(3)]
    with engine.begin() as connection:
        for i, object_id in enumerate(ids):
            connection.execute(insert(table).values(
                id=object_id, tenant="t", case_ref=f"C-{i}", contract_number=None, sender="a@example.org",
                recipient=None, kind="other", event_type="other", timeline_at=now, media_type="x", size=1,
                sha256="0" * 64, sha512="0" * 128, policy_id="p", policy_version=1, deposited_at=now,
                depositor="k", extra={"ip_address": "192.0.2.1", "channel": "web"}, status="active",
                journal_index=0, seal_seq=i))
        connection.execute(insert(sa_table("retention_policies", sa_column("id"), sa_column("version"),
                                           sa_column("text"), sa_column("sha256"), sa_column("loaded_at"))).values(
            id="p", version=1, text='id = "p"\nstart = "event_time"\npersonal_fields = ["sender", "extra.ip_address"]\n',
            sha256="0" * 64, loaded_at=now))
    upgrade(engine)
    with engine.connect() as connection:
        records = {r.object_id: bytes(r.record) for r in connection.execute(select(MetadataRecordRow.__table__))}
        opened = connection.execute(select(MetadataDisclosureRow.__table__)).all()
    assert set(records) == set(ids)
    record = parse_record(records[ids[1]])
    assert record["case_ref"] == "C-1" and record["policy"] == {"id": "p", "version": 1, "start": "event_time"}
    assert record["extra"] == {"channel": "web"} and set(record["commitments"]) == {"sender", "extra.ip_address"}
    assert b"a@example.org" not in records[ids[1]] and b"192.0.2.1" not in records[ids[1]]
    assert record["deposited_at"] == "2026-03-04T05:06:07Z"
    mine = [r for r in opened if r.object_id == ids[1]]
    assert {r.field for r in mine} == {"sender", "extra.ip_address"}
    for r in mine:
        assert check_disclosure(record, {"field": r.field, "salt": bytes(r.salt).hex(),
                                         "value": json.loads(r.value)}) is None


def test_0026_backfills_missing_records_and_queues_versions_not_sealed_with_the_content(engine):
    """An object without a record (imported after 0025) gets version 1; a later version is queued for its seal;
    version 1 of unsealed objects is not (their initial batch seals it with the content)."""
    from vault.db.tables import MetadataRecordRow, RecordSealPending
    upgrade(engine, "0025")
    table, records = ArchivedObject.__table__, MetadataRecordRow.__table__
    now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    ids = [new_object_id() for _ in range(2)]
    with engine.begin() as connection:
        for i, object_id in enumerate(ids):
            connection.execute(insert(table).values(
                id=object_id, tenant="t", case_ref=f"C-{i}", contract_number=None, sender=None, recipient=None,
                kind="other", event_type="other", timeline_at=now, media_type="x", size=1, sha256="0" * 64,
                sha512="0" * 128, policy_id="p", policy_version=1, deposited_at=now, depositor="k", extra={},
                status="active", journal_index=0, seal_seq=i))
        connection.execute(insert(records).values(object_id=ids[0], version=1, record=b"{}", created_at=now))
        connection.execute(insert(records).values(object_id=ids[0], version=2, record=b"{}", created_at=now))
    upgrade(engine, "0026")
    with engine.connect() as connection:
        versions = connection.execute(select(records.c.object_id, records.c.version)).all()
        pending = connection.execute(select(RecordSealPending.__table__.c.object_id,
                                            RecordSealPending.__table__.c.version)).all()
    assert sorted(versions) == sorted([(ids[0], 1), (ids[0], 2), (ids[1], 1)])
    assert pending == [(ids[0], 2)]
