"""A database that went away (a PostgreSQL restart, a lost connection) is an operator's condition, not a bug: it is
told in one line, never as a traceback."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError


def outage_reason(exc: BaseException) -> str | None:
    """The first line of the driver's message when ``exc`` is a database outage (SQLAlchemy's
    ``OperationalError``), else None."""
    if not isinstance(exc, OperationalError):
        return None
    return (str(exc.orig or exc).strip().splitlines() or [""])[0]
