"""Typed views of the answers integrators use most: a deposit receipt and a download (docs/api.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Receipt:
    """The answer to ``POST /v1/objects``: the object is durable and journaled. ``replayed``: an earlier deposit
    with the same Idempotency-Key answered again (nothing new stored). ``raw`` keeps every field sent."""

    id: str
    tenant: str
    case_ref: str | None
    sha256: str
    size: int
    media_type: str
    filename: str | None
    deposited_at: str
    policy: str
    journal_index: int | None
    replayed: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any], replayed: bool = False) -> "Receipt":
        return cls(id=body["id"], tenant=body["tenant"], case_ref=body.get("case_ref"), sha256=body["sha256"],
                   size=int(body["size"]), media_type=body.get("media_type") or "application/octet-stream",
                   filename=body.get("filename"), deposited_at=body["deposited_at"], policy=body["policy"],
                   journal_index=body.get("journal_index"), replayed=replayed, raw=body)


@dataclass(frozen=True)
class Download:
    """A file written by :meth:`VaultClient.download`, whose SHA-256 matched the archive's."""

    object_id: str
    path: Path
    sha256: str
    size: int
