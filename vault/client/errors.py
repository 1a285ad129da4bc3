"""What the client raises: a server refusal as an RFC 9457 problem, an unreachable server, a corrupt download."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_CORE = ("type", "title", "status", "detail", "instance")


class ClientError(Exception):
    """Base of every error :mod:`vault.client` raises; ``str()`` is a message for a person."""


@dataclass(eq=False)
class ProblemError(ClientError):
    """The server refused (4xx/5xx): the RFC 9457 §3.1 members plus the extensions it sent (e.g. ``refused``)."""

    status: int
    title: str
    detail: str
    slug: str = ""
    extensions: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None

    @classmethod
    def from_body(cls, status: int, body: Any, text: str = "", retry_after: float | None = None) -> "ProblemError":
        """A problem document (RFC 9457 §3), or a non-JSON error body kept as its first 500 characters."""
        if not isinstance(body, dict):
            return cls(status, "error", text[:500].strip(), retry_after=retry_after)
        slug = str(body.get("type") or "").rpartition(":")[2]
        extensions = {k: v for k, v in body.items() if k not in _CORE}
        return cls(status, str(body.get("title") or "error"), str(body.get("detail") or ""), slug, extensions,
                   retry_after)

    def __str__(self) -> str:
        lines = [f"HTTP {self.status} {self.title}: {self.detail}".rstrip(": ")]
        lines.extend(details(self.extensions))
        return "\n".join(lines)


def details(extensions: dict[str, Any]) -> list[str]:
    """The extension members of a problem as indented lines: per-object reasons, validation errors, limits."""
    lines: list[str] = []
    for name, value in extensions.items():
        if name in ("request_id", "retry_after"):
            continue
        if isinstance(value, dict):
            lines.append(f"  {name}:")
            lines.extend(f"    {key}: {_text(item)}" for key, item in value.items())
        elif isinstance(value, list) and value:
            lines.append(f"  {name}:")
            lines.extend(f"    - {_text(item)}" for item in value)
        elif value not in (None, "", [], {}):
            lines.append(f"  {name}: {_text(value)}")
    return lines


def _text(value: Any) -> str:
    if isinstance(value, dict):
        if "msg" in value:  # a pydantic error: where, then what
            where = ".".join(str(part) for part in value.get("loc", ()))
            return f"{where}: {value['msg']}" if where else str(value["msg"])
        if "field" in value and "problem" in value:
            return f"{value['field']}: {value['problem']}"
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    return str(value)


class ConnectionFailed(ClientError):
    """The server could not be reached (after the retries allowed); nothing is known to have been stored."""


class DigestMismatch(ClientError):
    """Downloaded bytes do not have the SHA-256 the archive holds for the object; no file was left behind."""
