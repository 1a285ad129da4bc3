"""The headers of a deposit's file part, checked against RFC 9110 before anything is stored.

The part's ``Content-Type`` is stored and later sent back as the ``Content-Type`` of ``GET …/content``: a value
outside the grammar (a control character, a line break) would be header injection, or a response the server
cannot send at all. Values are refused, never repaired, so what is stored is what the depositor declared.
"""

from __future__ import annotations

import re

from vault.api.problems import Problem
from vault.deposit.metadata import filename_problem

MAX_MEDIA_TYPE = 255

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # RFC 9110 §5.6.2 token (tchar)
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e]|\\[\t \x21-\x7e])*"'  # §5.6.4 quoted-string, without obs-text
_OWS = r"[ \t]*"
# §8.3.1 media-type = type "/" subtype parameters; §5.6.6 parameters = *( OWS ";" OWS [ parameter ] )
MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?:{_OWS};{_OWS}(?:{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))?)*")


def is_media_type(text: str | None) -> bool:
    """True when ``text`` is a media type by RFC 9110 §8.3.1 (US-ASCII only) and at most 255 characters."""
    return text is not None and len(text) <= MAX_MEDIA_TYPE and MEDIA_TYPE.fullmatch(text) is not None


def _refused(header: str, why: str) -> Problem:
    return Problem(422, "invalid-part-header", "Invalid part header",
                   f"the file part's {header} {why}; nothing was stored", header=header)


def part_media_type(raw: bytes | None) -> str | None:
    """The file part's ``Content-Type`` (surrounding OWS removed), or None when the part has none; refuses
    (422 ``invalid-part-header``) a value outside RFC 9110 §8.3.1's grammar or longer than 255 characters."""
    if raw is None:
        return None
    text = raw.decode("latin-1").strip(" \t")
    if not is_media_type(text):
        raise _refused("Content-Type", "is not a media type by RFC 9110 §8.3.1 (type/subtype; parameters, "
                                       f"US-ASCII, at most {MAX_MEDIA_TYPE} characters), e.g. application/pdf")
    return text


def part_filename(raw: bytes | None) -> str | None:
    """The ``filename`` of the part's ``Content-Disposition`` (RFC 7578 §4.2) as UTF-8, or None; refuses a name
    with a control character (C0, DEL or C1) or longer than 255 characters."""
    if not raw:
        return None
    name = raw.decode("utf-8", "replace")
    why = filename_problem(name)
    if why:
        raise _refused("filename", why)
    return name
