"""Search, count and facets over the catalogue (NF Z42-020 §5 "search" and "count"), on indexed search keys.

References (``case_ref``, ``contract_number``) match case-insensitively, exactly or, with a trailing ``*``, as a
prefix; parties match exactly, case-insensitively; ``extra.<name>`` matches a field some policy declares
indexable (vault.catalog.keys). Pages follow a keyset cursor that carries the sort key, so a page never repeats
or skips an object whatever is deposited meanwhile. Every query is scoped to the tenant the caller passes in.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from vault.catalog.formats import PUID_VALUE, WITH_FORMATS, puid_condition
from vault.catalog.keys import PREFIX, prefix_range, search_key
from vault.db.tables import ArchivedObject, ObjectExtraKey
from vault.ids import is_object_id
from vault.retention.policy import EXTRA_NAME

T = ArchivedObject.__table__
X = ObjectExtraKey.__table__
MAX_PAGE = 500

PERSONAL_FILTERS = ("case_ref", "contract_number", "sender", "recipient", "party", "format", "format_puid")
"""Search filters given as free text: in the journal only as keyed pseudonyms (vault.journal.pseudonyms); so are
``extra.<name>`` values."""
EXTRA_KIND = r"extra\." + EXTRA_NAME
"""The journal's pseudonym kind of an ``extra.<name>`` search term (a name a policy may declare indexable)."""
PREFIXABLE = ("case_ref", "contract_number")
SORTS = {"event_time": T.c.timeline_at, "deposited_at": T.c.deposited_at}
"""Sort keys (``-`` before one: newest first). ``event_time`` orders by the event time, or the deposit time of an
object deposited without one (the case timeline's order). Without ``sort``: deposit order (the object id)."""
FACETS = {"event_type": T.c.event_type, "etsi_event": T.c.etsi_event, "kind": T.c.kind, "policy": T.c.policy_id,
          "verdict": T.c.validation_verdict, "format": T.c.detected_media_type, "format_puid": PUID_VALUE}
"""Facet name → column; objects without a signature (verdict), an identified format or an ETSI event name count
under ``none``;
``format_puid`` (vault.catalog.formats) also counts ``pending`` objects, not identified yet."""
NONE = "none"


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class SearchFilters:
    tenant: str | None  # None: every tenant (only for callers bound to '*')
    case_ref: str | None = None
    contract_number: str | None = None
    sender: str | None = None
    recipient: str | None = None
    event_type: str | None = None
    etsi_event: str | None = None  # EN 319 522-1 / TS 102 640-2 name (vault.lre.vocabulary), or "none"
    period_from: datetime | None = None
    period_to: datetime | None = None
    party: str | None = None  # sender or recipient
    kind: str | None = None
    verdict: str | None = None  # worst signature verdict, or "none" for files without signatures
    format: str | None = None  # detected media type, or "none" for unidentified files
    policy: str | None = None
    format_puid: str | None = None  # PRONOM PUID, "none" (no signature matched) or "pending"
    extra: tuple[tuple[str, str], ...] = ()  # (name, value) of declared indexable extra fields
    reveal_restricted: bool = False  # an archivist stated a reason: restricted objects match by party too (art. 18)

    def used(self) -> list[str]:
        names = ("case_ref", "contract_number", "sender", "recipient", "event_type", "etsi_event", "period_from",
                 "period_to", "party", "kind", "verdict", "format", "policy", "format_puid")
        return [name for name in names if getattr(self, name) is not None] + [f"extra.{n}" for n, _ in self.extra]

    def value(self, name: str) -> Any:
        return dict(self.extra)[name[6:]] if name.startswith("extra.") else getattr(self, name)

    def journal_view(self) -> tuple[dict[str, str], dict[str, str]]:
        """(clear filters, personal filters): references, parties, extra fields and every free-text filter (a typed
        media type can carry anything) may be personal data, journaled as pseudonyms; the rest are enumerations
        and dates."""
        clear, personal = {}, {}
        for name in self.used():
            value = self.value(name)
            if name in PERSONAL_FILTERS or name.startswith("extra."):
                personal[name] = value
            else:
                clear[name] = value.isoformat() if hasattr(value, "isoformat") else value
        return clear, personal


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _matches(column, text: str, prefixable: bool) -> ColumnElement:
    """``column`` (a key column) equal to the key of ``text``, or in its prefix range for ``stem*``."""
    if prefixable and text.endswith(PREFIX):
        low, high = prefix_range(text[:-len(PREFIX)])
        return and_(column >= low, column < high) if high is not None else column >= low
    return column == search_key(text)


def conditions(filters: SearchFilters) -> list[ColumnElement]:
    """The WHERE clauses of ``filters``, each served by an index on (tenant, key)."""
    where: list[ColumnElement] = []
    if filters.tenant is not None:
        where.append(T.c.tenant == filters.tenant)
    for name in ("case_ref", "contract_number", "sender", "recipient"):
        value = getattr(filters, name)
        if value is not None:
            where.append(_matches(T.c[f"{name}_key"], value, name in PREFIXABLE))
    if filters.party is not None:
        key = search_key(filters.party)
        where.append(or_(T.c.sender_key == key, T.c.recipient_key == key))
    for name in ("event_type", "kind"):
        if getattr(filters, name) is not None:
            where.append(T.c[name] == getattr(filters, name))
    if filters.policy is not None:
        where.append(T.c.policy_id == filters.policy)
    for name, column in (("verdict", T.c.validation_verdict), ("format", T.c.detected_media_type),
                         ("etsi_event", T.c.etsi_event)):
        value = getattr(filters, name)
        if value is not None:
            where.append(column.is_(None) if value == NONE else column == value)
    if filters.format_puid is not None:
        where.append(puid_condition(filters.format_puid))
    if filters.period_from is not None:
        where.append(T.c.timeline_at >= filters.period_from)
    if filters.period_to is not None:
        where.append(T.c.timeline_at < filters.period_to)
    for name, value in filters.extra:
        where.append(T.c.id.in_(select(X.c.object_id).where(X.c.name == name, _matches(X.c.value_key, value, True))))
    if not filters.reveal_restricted and (filters.sender or filters.recipient or filters.party or filters.extra):
        where.append(T.c.restriction.is_(None))  # a match by a restricted value would disclose it (GDPR art. 18)
    return where


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def encode_cursor(row: dict[str, Any], sort: str | None) -> str:
    """The position after ``row``: its id (deposit order, the cursors of earlier releases) or sort key and id."""
    if sort is None:
        return _b64(row["id"])
    return _b64(f"{sort}|{row[SORTS[sort.lstrip('-')].key].isoformat()}|{row['id']}")


def decode_cursor(cursor: str, sort: str | None) -> tuple[datetime | None, str]:
    try:
        parts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8").split("|")
        if sort is None and len(parts) == 1 and is_object_id(parts[0]):
            return None, parts[0]
        if sort is not None and len(parts) == 3 and parts[0] == sort and is_object_id(parts[2]):
            return datetime.fromisoformat(parts[1]), parts[2]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BadCursor("cursor is not one this server issued for this sort order")


def search(engine: Engine, filters: SearchFilters, cursor: str | None, limit: int, sort: str | None = None,
           columns: tuple[str, ...] | None = None) -> Page:
    """One page of the objects matching ``filters``, in ``sort`` order (deposit order when None); each row holds
    ``columns`` (every column when None) and what the cursor needs."""
    limit = max(1, min(limit, MAX_PAGE))
    descending = sort is not None and sort.startswith("-")
    column = SORTS[sort.lstrip("-")] if sort else None
    if columns is None:
        query = select(T)
    else:  # fewer columns to convert: a page's cost is mostly its rows' conversion, not the indexed query
        query = select(*(T.c[name] for name in dict.fromkeys(("id", *columns, *([column.key] if sort else [])))))
    query = query.where(*conditions(filters))
    if cursor:
        at, after = decode_cursor(cursor, sort)
        if column is None:
            query = query.where(T.c.id > after)
        elif descending:
            query = query.where(or_(column < at, and_(column == at, T.c.id < after)))
        else:
            query = query.where(or_(column > at, and_(column == at, T.c.id > after)))
    order = [T.c.id] if column is None else [column, T.c.id]
    query = query.order_by(*(c.desc() for c in order) if descending else order).limit(limit + 1)
    with engine.connect() as connection:
        rows = [row._asdict() for row in connection.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1], sort) if more and rows else None)


def count(engine: Engine, filters: SearchFilters) -> int:
    """How many objects match ``filters`` (NF Z42-020 "count")."""
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(T).where(*conditions(filters))).scalar_one()


def facets(engine: Engine, filters: SearchFilters, names: list[str]) -> dict[str, dict[str, int]]:
    """For each facet in ``names``, the number of matching objects per value, over the whole matching set."""
    where = conditions(filters)
    found: dict[str, dict[str, int]] = {}
    with engine.connect() as connection:
        for name in names:
            column = FACETS[name]
            query = select(column, func.count()).where(*where).group_by(column)
            rows = connection.execute(query.select_from(WITH_FORMATS) if column is PUID_VALUE else query)
            counts = {NONE if value is None else value: n for value, n in rows}
            found[name] = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return found
