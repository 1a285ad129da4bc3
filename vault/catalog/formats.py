"""The formats held: the background PRONOM pass over the deposits, and the counts per PUID that watch format
obsolescence (``GET /v1/formats``, the crypto and format inventory).

The pass follows the deposits by ``seal_seq`` from its watermark (like vault.jobs.follower, but identifying outside
any transaction: on SQLite a writer transaction held over FIDO's milliseconds per file would stall deposits). It
reads each object's bytes once from the store, identifies them (vault.pronom) and writes one ``object_formats`` row
per object with the watermark, in one short transaction (one multi-row INSERT, vault.db.multirow). With the local
store's paths and an :class:`vault.pronom.Identifier`, the identification child reads the files itself: the
server's thread only reads rows, sends paths and writes rows (bench/README.md, "PRONOM"). Until then an object's
format is ``pending``.
"""

from __future__ import annotations

import functools
import logging
from typing import Callable, Iterator

from sqlalchemy import Engine, and_, case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from vault.db.multirow import execute_many
from vault.db.tables import ArchivedObject, ObjectFormat, TrackerState
from vault.jobs.follower import BackgroundFold, dialect_insert, under_lock
from vault.pronom import Edges, PronomMatch, edges_of
from vault.storage.blobstore import BlobNotFound

OBJECTS = ArchivedObject.__table__
FORMATS = ObjectFormat.__table__
STATE = TrackerState.__table__
WATERMARK = "formats"
BATCH = 1000
CHUNK = 16
"""Objects per round trip to the identification child: a stop waits for one chunk at most."""
PENDING, NONE = "pending", "none"
log = logging.getLogger(__name__)

PUID_VALUE = case((FORMATS.c.object_id.is_(None), PENDING), (FORMATS.c.puid.is_(None), NONE), else_=FORMATS.c.puid)
"""An object's PUID as search and facets see it, over ``objects LEFT JOIN object_formats``."""
WITH_FORMATS = OBJECTS.outerjoin(FORMATS, FORMATS.c.object_id == OBJECTS.c.id)


def puid_condition(value: str):
    """The WHERE clause of ``?format_puid=``: a PUID, ``none`` (no signature matched) or ``pending``."""
    if value == PENDING:
        return OBJECTS.c.id.notin_(select(FORMATS.c.object_id))
    if value == NONE:
        return OBJECTS.c.id.in_(select(FORMATS.c.object_id).where(FORMATS.c.puid.is_(None)))
    return OBJECTS.c.id.in_(select(FORMATS.c.object_id).where(FORMATS.c.puid == value))


class FormatPass:
    """Identifies every deposit in the background; ``read(sha256)`` yields the stored bytes, ``identify(bof, eof)``
    is vault.pronom.identify or an :class:`vault.pronom.Identifier`; ``locate(sha256)``, when given with an
    identifier that has ``files``, is the blob's local path, which the identifier reads instead of ``read``;
    ``catch_up`` identifies what is pending up to now."""

    def __init__(self, engine: Engine, fold_engine: Engine, read: Callable, identify: Callable, clock, locks=None,
                 locate: Callable | None = None):
        self.engine, self.fold_engine = engine, fold_engine
        self._read, self._identify, self._clock = read, identify, clock
        self._locate = locate
        self.locks = locks
        self.follower = BackgroundFold("formats", self.catch_up)

    def start(self, interval: float = 1.0) -> None:
        self.follower.start(interval)

    def stop(self) -> None:
        self.follower.stop()
        close = getattr(self._identify, "close", None)
        if close:
            close()

    def catch_up(self) -> int:
        """Identify every deposit past the watermark; returns how many."""
        return under_lock(self.locks, WATERMARK, self._catch_up)

    def _catch_up(self) -> int:
        done = 0
        while True:
            count = self._one_batch()
            done += count
            if count < BATCH or self.follower.stopping:
                return done

    def _one_batch(self) -> int:
        with self.engine.connect() as connection:
            start = connection.execute(select(STATE.c.position).where(STATE.c.name == WATERMARK)).scalar() or 0
            rows = connection.execute(
                select(OBJECTS.c.seal_seq, OBJECTS.c.id, OBJECTS.c.tenant, OBJECTS.c.sha256, OBJECTS.c.destroyed_at)
                .where(OBJECTS.c.seal_seq >= start).order_by(OBJECTS.c.seal_seq).limit(BATCH)).all()
        count = next((i for i, row in enumerate(rows) if row.seal_seq != start + i), len(rows))
        if count == 0:
            return 0
        now = self._clock.now()
        found: list[dict] = []
        known: dict[str, tuple[str | None, PronomMatch | None] | None] = {}  # by sha256 (pdfa, match): once each
        for first in range(0, count, CHUNK):  # on shutdown, keep what is identified: the watermark resumes after it
            if found and self.follower.stopping:
                break
            chunk = rows[first:min(first + CHUNK, count)]
            todo = {row.sha256: row for row in chunk if row.destroyed_at is None and row.sha256 not in known}
            known.update(dict.fromkeys(todo))  # None: not identified yet
            known.update(self._identify_rows(list(todo.values())))
            for row in chunk:
                if row.destroyed_at is not None:
                    found.append(self._row(row, None, None, now))
                elif known[row.sha256] is None:
                    break  # stopping: not identified, nor are the rows after it
                else:
                    found.append(self._row(row, *known[row.sha256], now))
        count = len(found)
        with self.fold_engine.begin() as connection:
            if found:
                execute_many(connection, _insert_formats(connection.dialect.name), found)
            statement = dialect_insert(connection, STATE).values(name=WATERMARK, position=start + count)
            connection.execute(statement.on_conflict_do_update(
                index_elements=[STATE.c.name], set_={"position": statement.excluded.position}))
        return count

    def _identify_rows(self, rows: list) -> Iterator[tuple[str, tuple[str | None, PronomMatch | None]]]:
        """(sha256, (pdfa, match)) of the rows' contents identified, in order; fewer than ``rows`` when stopping.
        The child reads the local store's files itself; content not there (another host's deposit, a copy the
        local store lost) is read from any store that holds it; content no store has is recorded unidentified."""
        files = getattr(self._identify, "files", None) if self._locate is not None else None
        if files is None:
            yield from self._identify_read(rows)
            return
        located = list(zip(rows, files([str(self._locate(row.sha256)) for row in rows])))
        elsewhere = dict(self._identify_read([row for row, found in located if not found]))
        for row, found in located:
            if row.sha256 in elsewhere or found:
                yield row.sha256, (found[1], found[0]) if found else elsewhere[row.sha256]

    def _identify_read(self, rows: list) -> Iterator[tuple[str, tuple[str | None, PronomMatch | None]]]:
        edges = {}
        for row in rows:
            try:
                edges[row.sha256] = edges_of(self._read(row.sha256))
            except BlobNotFound:
                yield row.sha256, self._missing(row)
        for sha256, match in zip(edges, self._identify_each(list(edges.values()))):
            yield sha256, (edges[sha256].pdfa(), match)

    @staticmethod
    def _missing(row) -> tuple[None, None]:
        log.warning("format pass: the content of %s is missing from the store; recorded unidentified", row.id)
        return None, None

    def _identify_each(self, windows: list[Edges]) -> list[PronomMatch | None]:
        """Batched through the identifier's ``many`` when it has one (one round trip to FIDO's child); else one by
        one, stopping after the object in hand when the pass is stopping (fewer answers than ``windows``)."""
        many = getattr(self._identify, "many", None)
        if many is not None:
            return many([(edges.bof, edges.eof) for edges in windows])
        found = []
        for edges in windows:
            if found and self.follower.stopping:
                break
            found.append(self._identify(edges.bof, edges.eof))
        return found

    @staticmethod
    def _row(row, pdfa: str | None, match: PronomMatch | None, now) -> dict:
        return {"object_id": row.id, "tenant": row.tenant, "puid": match and match.puid,
                "version": match and match.version, "name": match and match.name, "mime": match and match.mime,
                "pdfa": pdfa, "identified_at": now}


@functools.cache
def _insert_formats(dialect: str):
    """The INSERT of the pass's rows, one statement per dialect (vault.db.multirow caches its plan by statement)."""
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(FORMATS)
    return insert.on_conflict_do_nothing(index_elements=[FORMATS.c.object_id])


def format_of(engine: Engine, object_id: str) -> dict:
    """``puid``, ``version``, ``pdfa`` of one object for its metadata view; ``puid`` is ``pending`` until the pass
    has run and None when no signature matched."""
    with engine.connect() as connection:
        row = connection.execute(select(FORMATS).where(FORMATS.c.object_id == object_id)).first()
    if row is None:
        return {"puid": PENDING, "version": None, "pdfa": None}
    return {"puid": row.puid, "version": row.version, "pdfa": row.pdfa}


def formats_held(engine: Engine, tenant: str | None) -> dict:
    """The formats of the objects whose content is held (not destroyed), in ``tenant`` (None: every tenant): one
    entry per PUID, version, MIME type and PDF/A claim with its object count, most held first; plus how many are
    still ``pending`` and how many matched no signature (``unidentified``)."""
    where = [OBJECTS.c.destroyed_at.is_(None)] + ([OBJECTS.c.tenant == tenant] if tenant is not None else [])
    key = (FORMATS.c.puid, FORMATS.c.version, FORMATS.c.name, FORMATS.c.mime, FORMATS.c.pdfa)
    with engine.connect() as connection:
        rows = connection.execute(select(*key, func.count()).select_from(
            OBJECTS.join(FORMATS, FORMATS.c.object_id == OBJECTS.c.id)).where(*where).group_by(*key)).all()
        pending = connection.execute(select(func.count()).select_from(WITH_FORMATS).where(
            and_(*where, FORMATS.c.object_id.is_(None)))).scalar_one()
    formats = [{"puid": r.puid, "version": r.version, "name": r.name, "mime": r.mime, "pdfa": r.pdfa,
                "objects": r[5]} for r in rows if r.puid is not None]
    formats.sort(key=lambda f: (-f["objects"], f["puid"], f["version"] or "", f["pdfa"] or ""))
    return {"formats": formats, "unidentified": sum(r[5] for r in rows if r.puid is None), "pending": pending}
