"""How stored bytes are handed to a browser: inline only for types that cannot run code, always sandboxed.

A depositor chooses the declared media type, so ``text/html``, ``image/svg+xml`` or ``application/xhtml+xml``
content served inline would run its scripts on the archive's origin, next to the reader's API key. Only types a
browser renders without a script engine are shown inline (RFC 6266 §4.2 ``inline``); everything else is an
``attachment``. ``Content-Security-Policy: sandbox`` (CSP Level 3 §6.3.2) with ``default-src 'none'`` makes the
answer a unique opaque origin that loads nothing, whatever a browser makes of it.
"""

from __future__ import annotations

from urllib.parse import quote

# Rendered by browsers with no script engine: plain text, raster images, PDF (the browsers' viewers run no
# document JavaScript). Not SVG (it holds scripts), not HTML/XML, not anything unknown.
INLINE_TYPES = frozenset({"text/plain", "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})
CONTENT_SECURITY_POLICY = "default-src 'none'; sandbox"


def essence(media_type: str | None) -> str:
    """The type/subtype of a media type, lower-cased, without parameters (RFC 9110 §8.3.1)."""
    return (media_type or "").split(";", 1)[0].strip().lower()


def content_disposition(media_type: str | None, filename: str | None) -> str:
    """``inline`` for :data:`INLINE_TYPES`, else ``attachment``; the filename as ``filename*`` (RFC 8187)."""
    kind = "inline" if essence(media_type) in INLINE_TYPES else "attachment"
    return f"{kind}; filename*=UTF-8''{quote(filename)}" if filename else kind


def content_headers(media_type: str | None, filename: str | None) -> dict[str, str]:
    """The presentation headers of an object's content answer."""
    return {"Content-Disposition": content_disposition(media_type, filename),
            "Content-Security-Policy": CONTENT_SECURITY_POLICY}
