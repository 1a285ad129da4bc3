"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, UserDefinedType


def _to_sqlite_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(" ", "microseconds")


def _from_sqlite_text(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class SQLiteTimestamp(UserDefinedType):
    """How SQLite stores a :class:`UTCDateTime`: the text SQLAlchemy's own ``DATETIME`` writes
    (``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC), made and parsed by the C ``isoformat``/``fromisoformat`` instead
    of %-formatting and a regular expression — a journal append formats one per entry."""

    cache_ok = True

    def get_col_spec(self, **_kw) -> str:
        return "DATETIME"

    def bind_processor(self, dialect):
        return _to_sqlite_text

    def result_processor(self, dialect, coltype):
        return _from_sqlite_text


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp: ``timestamptz`` on PostgreSQL, ISO text on SQLite; always aware on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return SQLiteTimestamp()
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
"""A JSON value: ``jsonb`` on PostgreSQL, JSON text on SQLite."""
