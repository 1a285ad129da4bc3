"""Answering one resource in several formats: ``Accept`` negotiation (RFC 9110 §12.5.1) or ``?format=``, and the
signed PDFs that need the TSA."""

from __future__ import annotations

from typing import Callable, Mapping

from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.timestamping.client import TsaUnavailable


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges.append((media.lower(), q))
    return ranges


def _quality(media: str, ranges: list[tuple[str, float]]) -> float | None:
    """q of the most specific range matching ``media`` (exact, then type/*, then */*); None when none does."""
    kind = media.split("/")[0]
    for candidate in (media, f"{kind}/*", "*/*"):
        found = [q for r, q in ranges if r == candidate]
        if found:
            return max(found)
    return None


def negotiate(accept: str | None, offered: list[str]) -> str | None:
    """The offered media type the ``Accept`` header prefers (the first offered on a tie, or without the header);
    None when it accepts none of them."""
    if not accept or not accept.strip():
        return offered[0]
    ranges = _ranges(accept)
    best, best_q = None, 0.0
    for media in offered:
        q = _quality(media, ranges)
        if q is not None and q > best_q:
            best, best_q = media, q
    return best


def choose(format_: str | None, accept: str | None, formats: Mapping[str, str]) -> str:
    """The media type to answer: ``?format=`` (a key of ``formats``) wins over ``Accept``; 406 when neither
    names one the resource has."""
    if format_ is not None:
        return formats[format_]
    media = negotiate(accept, list(formats.values()))
    if media is None:
        raise Problem(406, "not-acceptable", "Not acceptable",
                      f"this resource is available as {', '.join(formats.values())} "
                      f"(or ?format={'|'.join(formats)})")
    return media


def format_name(media: str, formats: Mapping[str, str]) -> str:
    return next(name for name, value in formats.items() if value == media)


async def signed_pdf(make: Callable[..., bytes], *args) -> bytes:
    """A PDF signed with a timestamp from the archive's TSA (PAdES B-T): 503 when no TSA answers."""
    try:
        return await run_in_threadpool(make, *args)
    except TsaUnavailable as exc:
        raise Problem(503, "tsa-unavailable", "TSA unavailable",
                      f"the PDF is signed with a timestamp and no TSA answered: {exc}; retry later or ask for JSON",
                      headers={"Retry-After": "30"}) from None
