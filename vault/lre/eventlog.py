"""JSON event logs exported by LRE platforms: the latest event's fields, and the list of events.

The log is a JSON array of events, a single event object, or an object holding its events under ``events``
(the object's own keys then fill what the latest event leaves out). An event is an object with some of
``event`` / ``type`` / ``event_type`` (the event name), ``time`` / ``timestamp`` / ``event_time`` / ``date``
(ISO 8601 with a zone, or seconds / milliseconds since 1970), ``sender`` / ``from``, ``recipient`` / ``to``,
``message_id`` / ``messageId``, ``case_ref`` / ``reference``, and optionally ``subject``, ``evidence_id``,
``sha256`` or ``digest`` / ``digests`` (``{"algorithm": …, "value": …}``). Keys are matched ignoring case,
``_`` and ``-``.

A pure function, in the manner of :mod:`vault.lre.eml`: it never raises, a field it cannot read is not
returned, and each value carries its source (e.g. ``eventlog events[3].timestamp``). The latest event is the
one with the latest time (the last of equals; the last in the list when no event has a readable time). Its
name is mapped to our event type by :func:`vault.lre.events.event_type_for`. Bounded: input over 16 MiB or
with more than 10 000 events gives {}, as does anything that is not JSON.
"""

from __future__ import annotations

import json
from datetime import datetime
from itertools import islice

from vault.lre.eml import Extracted
from vault.lre.events import (clean_address, clean_text, digest_entry, event_type_for, join_addresses,
                              parse_epoch, parse_time)

SOURCE = "eventlog"
MAX_BYTES = 16 * 1024 * 1024
MAX_EVENTS = 10_000
MAX_IDENTIFIER = 256
MAX_KEYS = 256  # keys of one object looked at

KEYS = {
    "event": ("event", "type", "eventtype", "eventname"),
    "time": ("time", "timestamp", "eventtime", "date", "datetime", "eventdate", "occurredat", "createdat"),
    "sender": ("sender", "from"),
    "recipient": ("recipient", "to"),
    "message_id": ("messageid",),
    "case_ref": ("caseref", "reference", "casereference"),
    "subject": ("subject",),
    "evidence_id": ("evidenceid", "evidenceidentifier"),
    "digest": ("digests", "digest", "sha256"),
}
ADDRESS_KEYS = ("email", "mail", "address", "identifier", "id", "value")


def _key(name: str) -> str:
    return name.replace("_", "").replace("-", "").replace(" ", "").lower()


def _keys(event: dict) -> dict[str, str]:
    """Normalised key → original key, for the first MAX_KEYS keys."""
    by_norm: dict[str, str] = {}
    for key in islice(event, MAX_KEYS):
        if isinstance(key, str):
            by_norm.setdefault(_key(key), key)
    return by_norm


def _get(event: dict, field: str, by_norm: dict[str, str] | None = None) -> tuple[str, object] | None:
    """(original key, value) of the first key naming ``field`` that has a non-null value."""
    by_norm = _keys(event) if by_norm is None else by_norm
    for wanted in KEYS[field]:
        key = by_norm.get(wanted)
        if key is not None and event[key] is not None:
            return key, event[key]
    return None


def _time(raw: object) -> datetime | None:
    if isinstance(raw, str):
        return parse_time(raw)
    return parse_epoch(raw)


def _name(raw: object) -> str | None:
    if isinstance(raw, dict):  # {"type": {"code": "…"}}
        for key in ("code", "name", "value", "id"):
            if isinstance(raw.get(key), str):
                raw = raw[key]
                break
    return clean_text(raw, 256) if isinstance(raw, str) else None


def _party(raw: object) -> str | None:
    if isinstance(raw, str):
        return clean_address(raw)
    if isinstance(raw, dict):
        lowered = {_key(k): v for k, v in islice(raw.items(), MAX_KEYS) if isinstance(k, str)}
        for key in ADDRESS_KEYS:
            if isinstance(lowered.get(key), str):
                value = clean_address(lowered[key])
                if value:
                    return value
        return None
    if isinstance(raw, list):
        return join_addresses([p for p in (_party(item) for item in raw[:64]) if p])
    return None


def _identifier(raw: object) -> str | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        raw = str(raw)
    return clean_text(raw, MAX_IDENTIFIER) if isinstance(raw, str) else None


def _digests(key: str, raw: object) -> list[dict[str, str]]:
    if _key(key) == "sha256":
        entry = digest_entry("sha256", raw)
        return [entry] if entry else []
    items = raw if isinstance(raw, list) else [raw]
    digests = []
    for item in items[:1000]:
        if isinstance(item, dict):
            lowered = {_key(k): v for k, v in islice(item.items(), MAX_KEYS) if isinstance(k, str)}
            entry = digest_entry(lowered.get("algorithm") or lowered.get("alg") or lowered.get("method"),
                                 lowered.get("value") or lowered.get("digest") or lowered.get("hash"))
            if entry and entry not in digests:
                digests.append(entry)
    return digests


def _extract(event: dict, where: str, found: dict[str, Extracted]) -> None:
    """Fields of one object not already in ``found``; ``where`` prefixes the source (e.g. ``events[3].``)."""
    by_norm = _keys(event)
    readers = {"sender": _party, "recipient": _party, "message_id": _identifier, "case_ref": _identifier,
               "evidence_id": _identifier, "subject": lambda raw: clean_text(raw) if isinstance(raw, str) else None}
    for field, read in readers.items():
        got = _get(event, field, by_norm)
        if field in found or got is None:
            continue
        value = read(got[1])
        if value:
            found[field] = Extracted(value, f"{SOURCE} {where}{got[0]}")
    got = _get(event, "digest", by_norm)
    if "digests" not in found and got is not None:
        digests = _digests(got[0], got[1])
        if digests:
            found["digests"] = Extracted(digests, f"{SOURCE} {where}{got[0]}")


def _fields(document: object) -> dict[str, Extracted]:
    wrapper: dict | None = None
    if isinstance(document, list):
        events = document
        prefix = ""
    elif isinstance(document, dict):
        listed = next(((k, v) for k, v in islice(document.items(), MAX_KEYS)
                       if isinstance(k, str) and _key(k) == "events" and isinstance(v, list)), None)
        if listed is not None:
            wrapper, prefix, events = document, listed[0], listed[1]
        else:
            events, prefix = [document], None
    else:
        return {}
    if len(events) > MAX_EVENTS:
        return {}

    parsed = []  # (index, event, (key, raw name), name, (key, raw time), time)
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            continue
        by_norm = _keys(event)
        name_got, time_got = _get(event, "event", by_norm), _get(event, "time", by_norm)
        name = _name(name_got[1]) if name_got else None
        when = _time(time_got[1]) if time_got else None
        if name is None and when is None:
            continue
        parsed.append((index, event, name_got, name, time_got, when))
    if not parsed:
        return {}

    timed = [entry for entry in parsed if entry[5] is not None]
    latest = max(timed, key=lambda entry: (entry[5], entry[0])) if timed else parsed[-1]
    index, event, name_got, name, time_got, when = latest
    where = "" if prefix is None else f"{prefix}[{index}]."

    found: dict[str, Extracted] = {}
    if name is not None:
        found["event_type"] = Extracted(event_type_for(name), f"{SOURCE} {where}{name_got[0]}")
        found["evidence_event"] = Extracted(name, f"{SOURCE} {where}{name_got[0]}")
    if when is not None:
        found["event_time"] = Extracted(when, f"{SOURCE} {where}{time_got[0]}")
    _extract(event, where, found)
    if wrapper is not None:
        _extract(wrapper, "", found)
    found["events"] = Extracted(
        [{"event_type": event_type_for(entry[3]) if entry[3] else "other", "event_time": entry[5]}
         for entry in parsed],
        f"{SOURCE} {'(one event)' if prefix is None else prefix or '[]'}")
    return found


def eventlog_fields(data: bytes) -> dict[str, Extracted]:
    """``event_type``, ``evidence_event``, ``event_time``, ``sender``, ``recipient``, ``message_id``,
    ``case_ref``, ``subject``, ``evidence_id``, ``digests`` of the latest event, and ``events``
    (``[{"event_type", "event_time"}]`` in log order); {} for anything that is not a readable event log."""
    try:
        if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) > MAX_BYTES:
            return {}
        document = json.loads(bytes(data).decode("utf-8-sig"))
        return _fields(document)
    except Exception:  # not UTF-8, not JSON, nested too deep (RecursionError), …: nothing is extracted
        return {}
