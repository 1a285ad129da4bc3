"""A bulk-deposit manifest: one row per file, CSV (columns = metadata fields) or JSON Lines (one object a line).

Column ``file`` names the file inside the deposit directory; ``media_type`` (optional) declares its type; every
other column is a metadata field of ``POST /v1/objects`` (``extra.NAME`` columns go into ``extra``). An empty
CSV cell is no value. A line that cannot be read becomes a :class:`Row` with ``problem`` set, never an exception.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator


class ManifestError(Exception):
    """The manifest as a whole cannot be read (missing, unknown format, no ``file`` column)."""


@dataclass(frozen=True)
class Row:
    """Line ``number`` (1 = the first data row) of the manifest."""

    number: int
    file: str
    metadata: dict[str, Any] = field(default_factory=dict)
    media_type: str | None = None
    problem: str | None = None


def read_manifest(path: Path) -> Iterator[Row]:
    """The rows of a ``.csv`` or ``.jsonl`` manifest, in order."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ManifestError(f"{path}: a manifest is .csv or .jsonl")
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ManifestError(f"{path}: {exc.strerror or exc}") from None
    with handle:
        yield from (_csv_rows(handle, path) if suffix == ".csv" else _jsonl_rows(handle))


def _csv_rows(handle, path: Path) -> Iterator[Row]:
    reader = csv.DictReader(handle)
    if "file" not in (reader.fieldnames or ()):
        raise ManifestError(f"{path}: the CSV header needs a 'file' column (then one column per metadata field)")
    for number, record in enumerate(reader, start=1):
        if None in record:
            yield Row(number, record.get("file") or "", problem="more cells than the header has columns")
            continue
        yield _row(number, {key: value for key, value in record.items() if value not in (None, "")}, flat=True)


def _jsonl_rows(handle) -> Iterator[Row]:
    for number, line in enumerate((line for line in handle if line.strip()), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Row(number, "", problem=f"not JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(record, dict):
            yield Row(number, "", problem="a line must be a JSON object")
            continue
        yield _row(number, record, flat=False)


def _row(number: int, record: dict[str, Any], flat: bool) -> Row:
    record = dict(record)
    file, media_type = record.pop("file", None), record.pop("media_type", None)
    if not isinstance(file, str) or not file:
        return Row(number, "", problem="no 'file' given")
    if media_type is not None and not isinstance(media_type, str):
        return Row(number, file, problem="'media_type' must be a string")
    metadata: dict[str, Any] = {}
    for key, value in record.items():
        if flat and key.startswith("extra."):
            metadata.setdefault("extra", {})[key[len("extra."):]] = value
        else:
            metadata[key] = value
    return Row(number, file, metadata, media_type)


def row_key(row: Row, media_type: str, sha256: str) -> str:
    """The row's Idempotency-Key: a digest of its file name, metadata, media type and the file's SHA-256, so a
    rerun sends the same key for the same row (replayed, never stored twice) and a new key once anything changed."""
    canonical = json.dumps({"file": row.file, "metadata": row.metadata, "media_type": media_type, "sha256": sha256},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "bulk-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
