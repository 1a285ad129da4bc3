"""PostgreSQL statements sent together: psycopg's pipeline mode (libpq ≥ 14, PostgreSQL protocol "Pipelining").

Each statement psycopg sends on its own costs a loopback round trip and two context switches, and the implicit
``BEGIN`` that opens a transaction is one more. In pipeline mode the ``BEGIN`` and the statements go out in one
write and their results come back together; the server still runs them one after the other, each with its own
snapshot (READ COMMITTED), so a statement sees what the one before it waited for (a lock).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from sqlalchemy import Connection


def first_values(connection: Connection, statements: Sequence[tuple[str, tuple]]) -> list[Any]:
    """Run ``statements`` (psycopg ``%s`` SQL and its parameters) in order in ``connection``'s transaction, in one
    round trip (with the ``BEGIN`` if the transaction has not started yet); the first column of each one's first
    row (None without a row). An error in one raises, and the transaction is then aborted as usual."""
    driver = connection.connection.driver_connection
    cursors = [driver.cursor() for _ in statements]
    try:
        with driver.pipeline():
            for cursor, (sql, parameters) in zip(cursors, statements):
                cursor.execute(sql, parameters)
        values = []
        for cursor in cursors:
            row = cursor.fetchone()
            values.append(None if row is None else row[0])
        return values
    finally:
        for cursor in cursors:
            cursor.close()


@contextmanager
def together(connection: Connection, statements: int) -> Iterator[None]:
    """While it lasts, ``connection``'s statements that return no rows (inserts) are queued and sent in one round
    trip when it ends, which raises the first one's error; PostgreSQL only, and only for two or more statements
    (SQLite: nothing to save; one statement: nothing to pair)."""
    if statements < 2 or connection.dialect.name != "postgresql":
        yield
        return
    with connection.connection.driver_connection.pipeline():
        yield

