"""Search keys: the case-folded copies of references, parties and indexable ``extra`` fields that searches compare.

A key is the value after Unicode default case folding (Unicode §3.13, ``str.casefold``), cut to
:data:`KEY_LENGTH` characters. Stored beside the value (``archived_objects.*_key``, ``object_extra_keys``) and
indexed, it makes ``case_ref=lre-2026-000123`` find ``LRE-2026-000123`` and ``case_ref=LRE-2026*`` a range scan
of an index, on SQLite and PostgreSQL alike (the key columns compare by code point there: ``COLLATE "C"``).
Pure functions: the deposit, the import, the disposal and the migration's backfill compute the same keys.
"""

from __future__ import annotations

from typing import Any

KEY_LENGTH = 256
KEYED_COLUMNS = ("case_ref", "contract_number", "sender", "recipient")
"""The object columns searched case-insensitively; each has a ``<name>_key`` column."""
PREFIX = "*"
"""A trailing ``*`` asks for a prefix (``case_ref=LRE-2026*``) where prefixes are allowed."""


def search_key(value: str) -> str:
    """``value`` case-folded and cut to :data:`KEY_LENGTH` characters: equal for values equal but for case."""
    return value.casefold()[:KEY_LENGTH]


def key_columns(row: dict[str, Any]) -> dict[str, str | None]:
    """The ``<name>_key`` values of an object row (None where the value is None)."""
    return {f"{name}_key": None if row.get(name) is None else search_key(row[name]) for name in KEYED_COLUMNS}


def extra_keys(object_id: str, extra: dict[str, Any] | None, names: tuple[str, ...]) -> list[dict[str, str]]:
    """The ``object_extra_keys`` rows of an object: one per declared name whose value is a string, a number or a
    boolean, or a list of them (one row per distinct element). Nested objects are not indexed."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for name in names:
        value = (extra or {}).get(name)
        for item in value if isinstance(value, list) else [value]:
            text = _scalar_text(item)
            if text is not None:
                key = search_key(text)
                rows[(name, key)] = {"name": name, "value_key": key, "object_id": object_id}
    return list(rows.values())


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def prefix_range(stem: str) -> tuple[str, str | None]:
    """The half-open range ``[low, high)`` of keys starting with the key of ``stem`` (high None: no bound)."""
    low = search_key(stem)
    high = low
    while high:
        last = ord(high[-1]) + 1
        if last <= 0x10FFFF:
            return low, high[:-1] + chr(0xE000 if 0xD800 <= last <= 0xDFFF else last)
        high = high[:-1]
    return low, None
