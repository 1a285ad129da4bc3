"""The formats held: the background PRONOM pass over the deposits, and the counts per PUID that watch format
obsolescence (``GET /v1/formats``, the crypto and format inventory).

The pass follows the deposits by ``seal_seq`` from its watermark (like vault.jobs.follower, but identifying outside
any transaction: on SQLite a writer transaction held over FIDO's milliseconds per file would stall deposits). It
reads each object's bytes once from the store, identifies them (vault.pronom) and writes one ``object_formats`` row
per object with the watermark, in one short transaction. Until then an object's format is ``pending``.
"""

from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy import Engine, and_, case, func, select

from vault.db.tables import ArchivedObject, ObjectFormat, TrackerState
from vault.jobs.follower import BackgroundFold, dialect_insert, under_lock
from vault.pronom import Edges, PronomMatch, edges_of
from vault.storage.blobstore import BlobNotFound

OBJECTS = ArchivedObject.__table__
FORMATS = ObjectFormat.__table__
STATE = TrackerState.__table__
WATERMARK = "formats"
BATCH = 200
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
    is vault.pronom.identify or an :class:`vault.pronom.Identifier`; ``catch_up`` identifies what is pending
    up to now."""

    def __init__(self, engine: Engine, fold_engine: Engine, read: Callable, identify: Callable, clock, locks=None):
        self.engine, self.fold_engine = engine, fold_engine
        self._read, self._identify, self._clock = read, identify, clock
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
        known: dict[str, tuple[Edges, PronomMatch | None] | None] = {}  # by sha256: same content read, identified once
        for first in range(0, count, CHUNK):  # on shutdown, keep what is identified: the watermark resumes after it
            if found and self.follower.stopping:
                break
            chunk = rows[first:min(first + CHUNK, count)]
            todo: dict[str, Edges] = {}
            for row in chunk:
                if row.destroyed_at is None and row.sha256 not in known and row.sha256 not in todo:
                    edges = self._edges(row)
                    if edges is None:
                        known[row.sha256] = Edges(), None  # missing from the store: recorded unidentified
                    else:
                        known[row.sha256], todo[row.sha256] = None, edges  # None: not identified yet
            for sha256, match in zip(todo, self._identify_each(list(todo.values()))):
                known[sha256] = todo[sha256], match
            for row in chunk:
                if row.destroyed_at is not None:
                    found.append(self._row(row, Edges(), None, now))
                elif known[row.sha256] is None:
                    break  # stopping: not identified, nor are the rows after it
                else:
                    found.append(self._row(row, *known[row.sha256], now))
        count = len(found)
        with self.fold_engine.begin() as connection:
            connection.execute(dialect_insert(connection, FORMATS).values(found).on_conflict_do_nothing(
                index_elements=[FORMATS.c.object_id]))
            statement = dialect_insert(connection, STATE).values(name=WATERMARK, position=start + count)
            connection.execute(statement.on_conflict_do_update(
                index_elements=[STATE.c.name], set_={"position": statement.excluded.position}))
        return count

    def _edges(self, row) -> Edges | None:
        try:
            return edges_of(self._read(row.sha256))
        except BlobNotFound:
            log.warning("format pass: the content of %s is missing from the store; recorded unidentified", row.id)
            return None

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
    def _row(row, edges: Edges, match: PronomMatch | None, now) -> dict:
        return {"object_id": row.id, "tenant": row.tenant, "puid": match and match.puid,
                "version": match and match.version, "name": match and match.name, "mime": match and match.mime,
                "pdfa": edges.pdfa(), "identified_at": now}


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
