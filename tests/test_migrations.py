"""Alembic migrations: they build exactly the schema the tables describe, on SQLite and PostgreSQL, and undo it."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from vault.db.engine import make_engine
from vault.db.migrate import current_revision, downgrade, head_revision, upgrade
from vault.db.tables import metadata

TABLES = {"archived_objects", "api_keys", "journal_entries", "idempotency_records"}


def test_upgrade_matches_the_models_and_downgrade_removes_everything(database_url, tmp_path):
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url)
    try:
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
    finally:
        engine.dispose()


def test_indexes_for_business_searches_exist(database_url, tmp_path):
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        indexed = {tuple(index["column_names"]) for index in inspect(engine).get_indexes("archived_objects")}
        for columns in [("tenant", "case_ref", "timeline_at"), ("tenant", "contract_number"), ("tenant", "sender"),
                        ("tenant", "recipient"), ("tenant", "timeline_at")]:
            assert columns in indexed
    finally:
        engine.dispose()
