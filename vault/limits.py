"""Bounds on what a client may send: JSON nesting, dates, integers. One rule each, reused by every entry point.

The archive keeps proofs for decades, so its dates live in 1900–2200; anything outside is a typo or an attack, and
refusing it early keeps ``datetime`` arithmetic (retention ends, offsets) from overflowing. Integers are the
64-bit signed values a database column holds. Nesting is bounded before a parser recurses into it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime

MAX_JSON_DEPTH = 32
"""Arrays and objects nested deeper than this are refused before parsing (a recursion bomb otherwise)."""
FIRST_YEAR, LAST_YEAR = 1900, 2200
"""Client dates must fall in these years, in UTC (after their offset is applied)."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""Bounds of every integer parameter: a signed 64-bit column (SQLite INTEGER, PostgreSQL BIGINT)."""


class TooDeep(ValueError):
    """JSON nested deeper than :data:`MAX_JSON_DEPTH`."""


def json_depth_within(raw: bytes | str, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`TooDeep` when the JSON text nests arrays or objects deeper than ``limit`` (RFC 8259 §9
    lets a parser set limits on nesting). A linear scan with no recursion; strings are skipped, so brackets
    inside them do not count. Malformed text is left for the parser to refuse."""
    text = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    if text.count(b"[") + text.count(b"{") <= limit:  # the usual body: too few brackets to nest that deep
        return
    depth, in_string, escaped = 0, False, False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quotation mark
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                raise TooDeep(f"JSON nested deeper than {limit} levels")
        elif byte in (0x5D, 0x7D):
            depth -= 1


def load_json(raw: bytes | str, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses, as :class:`ValueError`, what would otherwise escape as another exception:
    nesting beyond ``limit`` (RecursionError) and integers beyond Python's digit limit."""
    json_depth_within(raw, limit)
    try:
        return json.loads(raw)
    except (RecursionError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(str(exc)) from None


def archive_time(value: datetime) -> datetime:
    """``value`` in UTC, if it falls in the years :data:`FIRST_YEAR`–:data:`LAST_YEAR` once its offset is
    applied; raises ValueError otherwise (also for the year 1 or 9999 with an offset, which ``astimezone`` cannot
    move to UTC)."""
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise ValueError(f"give a date in the years {FIRST_YEAR} to {LAST_YEAR} (UTC, after the offset)")
    return utc


ArchiveTime = Annotated[AwareDatetime, AfterValidator(archive_time)]
"""A client date: with a UTC offset, in the archive's years, answered in UTC. Use for every datetime a client
sends (bodies and query parameters)."""
