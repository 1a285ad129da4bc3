"""Schema migrations (Alembic), run programmatically: ``vault db upgrade`` and at every service start.

Replicas started at the same moment (an orchestrator's rollout) all migrate at start: on PostgreSQL the upgrade
holds a transaction-scoped advisory lock, so one replica migrates while the others wait, then find the schema at
head and do nothing. (Without it two starts raced to create ``alembic_version``: ``UniqueViolation``.) On SQLite
the migration transaction begins ``IMMEDIATE``: it takes the file's write lock first and waits for it, rather than
reading the schema and failing ``database is locked`` when it comes to write.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from vault.db.engine import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x7661756C74_00  # "vault" + 0: the advisory lock key of schema changes


def _config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _serialized(connection: Connection) -> None:
    """Wait for any other process changing the schema (PostgreSQL advisory lock held until this transaction ends)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


@contextmanager
def _schema_change(engine: Engine) -> Iterator[Connection]:
    """A transaction in which no other process changes the schema."""
    if engine.dialect.name == "sqlite":
        engine = make_engine(engine.url.render_as_string(hide_password=False), writer=True)  # BEGIN IMMEDIATE
        try:
            with engine.begin() as connection:
                yield connection
        finally:
            engine.dispose()
        return
    with engine.begin() as connection:
        _serialized(connection)
        yield connection


def upgrade(engine: Engine, revision: str = "head") -> None:
    with _schema_change(engine) as connection:
        command.upgrade(_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with _schema_change(engine) as connection:
        command.downgrade(_config(connection), revision)
