"""Many rows of one INSERT straight to the driver, in multi-row ``VALUES`` statements (SQL:1992 §7.2 table value
constructor; SQLite ≥ 3.7.11; PostgreSQL).

SQLAlchemy's per-row parameter handling costs more than the database's insert: here the statement is compiled once
per table and key set with positional placeholders (``?`` on sqlite3; PostgreSQL's own ``$1, $2, …`` through
psycopg's ``RawCursor``, which sends the text as it is: with ``%s`` psycopg re-parsed every statement longer than
4 KiB at each execution, which made the direct path dearer than SQLAlchemy's), each row's values go through the
columns' own bind processors in one pass, and up to 256 rows go in one statement. A failing row fails its whole
statement (the writer then replays its batch unit by unit).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from operator import itemgetter
from typing import Any, Callable, Iterator

from sqlalchemy import Connection, DateTime, Insert, LargeBinary

_PLANS: dict[tuple[Insert, str, tuple[str, ...]], Any] = {}
_POSITIONAL: dict[str, Any] = {}  # dialect name → a dialect of the same kind compiling positional placeholders


def _holds_datetimes(column) -> bool:
    """A timestamp column, plain or through a TypeDecorator (UTCDateTime)."""
    declared = column.type
    return isinstance(declared, DateTime) or isinstance(getattr(declared, "impl_instance", None), DateTime)


def _bind(column, dialect) -> Callable[[Any], Any] | None:
    """The column's bind processor; none for blobs on SQLite (sqlite3 stores ``bytes`` as a BLOB itself) and a
    one-value memo for timestamps (the rows of one unit share their time)."""
    impl = column.type.dialect_impl(dialect)
    if dialect.name == "sqlite" and isinstance(impl, LargeBinary):
        return None
    process = impl.bind_processor(dialect)
    if process is None or not _holds_datetimes(column):  # only immutable timestamps are remembered by identity
        return process
    last: list[Any] = [object(), None]

    def remembered(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]
    return remembered


_ROWS_PER_STATEMENT = 256  # and 128, 64, 32, 16 for the rest; fewer rows left go as one executemany (SQLite)
_MAX_PARAMETERS = 32766  # SQLite's SQLITE_MAX_VARIABLE_NUMBER since 3.32 (PostgreSQL's limit is 65535)


def _values_group(sql: str) -> tuple[str, str, str] | None:
    """``(head, group, tail)`` of an ``INSERT … VALUES (…) [ON CONFLICT …]``: the one row's parenthesized group
    (placeholders, with the casts PostgreSQL's compiler may render) between what comes before and after it."""
    at = sql.rfind(" VALUES (")
    if at < 0:
        return None
    first = at + len(" VALUES ")
    depth = 0
    for end in range(first, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        if depth == 0:
            return sql[:first], sql[first:end + 1], sql[end + 1:]
    return None


class _Plan:
    """How to run an INSERT on the driver with positional parameters: its SQL for one row and, when its VALUES
    holds one group of placeholders, the SQL for ``n`` rows in one multi-row VALUES statement."""

    def __init__(self, sql: str, pick: Callable[[dict], tuple], binds: list[tuple[int, Callable]], width: int,
                 numbered: bool):
        self.pick, self.binds, self.width = pick, binds, width
        self.numbered = numbered  # PostgreSQL's own $n placeholders, and the rest in one statement of its count
        self._parts = _values_group(sql)
        self._many: dict[int, str] = {}
        self.per_statement = min(_ROWS_PER_STATEMENT, _MAX_PARAMETERS // width) if self._parts else 0
        self.sql = self.rows_sql(1) if numbered and self._parts else sql

    def rows_sql(self, count: int) -> str:
        sql = self._many.get(count)
        if sql is None:
            head, group, tail = self._parts
            if self.numbered:  # %s → $1, $2, … (psycopg would parse the long text again at each execution)
                pieces = [piece.replace("%%", "%") for piece in group.split("%s")]
                groups = ["".join(piece + f"${row * self.width + i + 1}" for i, piece in enumerate(pieces[:-1]))
                          + pieces[-1] for row in range(count)]
                head, tail = head.replace("%%", "%"), tail.replace("%%", "%")
            else:
                groups = [group] * count
            sql = self._many[count] = head + ", ".join(groups) + tail
        return sql

    def pieces(self, total: int) -> Iterator[tuple[int, int]]:
        """``(first, count)`` of the multi-row statements for ``total`` rows: full ones, then halves down to 16
        rows (a handful of statement texts, each prepared once per connection), then — where ``numbered`` —
        the rest in one statement."""
        first, size = 0, self.per_statement
        while size >= 16:
            while total - first >= size:
                yield first, size
                first += size
            size //= 2
        if self.numbered and self.per_statement and total - first > 1:
            yield first, total - first


def _positional(dialect):
    """A dialect compiling like ``dialect`` but with positional placeholders (``%s`` for psycopg's pyformat)."""
    if dialect.positional:
        return dialect
    positional = _POSITIONAL.get(dialect.name)
    if positional is None:
        positional = _POSITIONAL[dialect.name] = type(dialect)(paramstyle="format")
        positional.server_version_info = dialect.server_version_info
    return positional


def _plan(statement: Insert, dialect, keys: tuple[str, ...]) -> _Plan | None:
    """The plan to run ``statement`` on the driver with positional parameters, or None when SQLAlchemy must run it
    (column defaults, literal values)."""
    compiled = statement.compile(dialect=_positional(dialect), column_keys=list(keys))
    names = compiled.positiontup
    if not names or sorted(names) != sorted(keys):
        return None
    columns = statement.table.c
    binds = [(i, process) for i, name in enumerate(names) if (process := _bind(columns[name], dialect))]
    pick = itemgetter(*names) if len(names) > 1 else (lambda row, name=names[0]: (row[name],))
    # PostgreSQL: one statement beats psycopg's pipelined executemany (one Bind/Execute per row)
    return _Plan(str(compiled), pick, binds, len(names), numbered=dialect.name == "postgresql")


def execute_many(connection: Connection, statement: Insert, rows: list[dict[str, Any]]) -> None:
    """``connection.execute(statement, rows)``, without SQLAlchemy's per-row parameter machinery: the same bind
    processors, applied in one pass — a fraction of the cost of each row. Every row must have the same keys (as
    SQLAlchemy's executemany requires).

    Rows go in multi-row statements of up to 256 rows: SQLite runs one statement instead of one per row (a
    quarter less time per row of the journal) and sqlite3 releases the GIL once for it instead of once per row —
    each release a chance for another thread to take the GIL, and for the writer to wait to get it back; on
    PostgreSQL one statement is one round trip, parsed once and prepared by psycopg after a few uses."""
    keys = tuple(rows[0])
    cache_key = (statement, connection.dialect.name, keys)
    plan = _PLANS.get(cache_key, False)
    if plan is False:
        plan = _PLANS[cache_key] = _plan(statement, connection.dialect, keys)
    if plan is None or any(len(row) != len(keys) for row in rows):
        connection.execute(statement, rows)
        return
    pick, binds = plan.pick, plan.binds
    if binds:
        params = []
        for row in rows:
            values = list(pick(row))
            for i, process in binds:
                values[i] = process(values[i])
            params.append(values)
    else:
        params = list(map(pick, rows))
    with _raw_cursors(connection) if plan.numbered else nullcontext():
        done = 0
        for first, count in plan.pieces(len(params)):
            connection.exec_driver_sql(plan.rows_sql(count), tuple(
                [value for values in params[first:first + count] for value in values]))
            done = first + count
        if done < len(params):
            connection.exec_driver_sql(plan.sql, [tuple(values) for values in params[done:]])


@contextmanager
def _raw_cursors(connection: Connection) -> Iterator[None]:
    """While it lasts, the psycopg connection's cursors take ``$n`` placeholders as they are (``RawCursor``)."""
    import psycopg  # here, not at the top: only PostgreSQL needs it, and the embedded default starts without it

    driver = connection.connection.driver_connection
    factory, driver.cursor_factory = driver.cursor_factory, psycopg.RawCursor
    try:
        yield
    finally:
        driver.cursor_factory = factory
