"""The console's languages: one message catalog per language (``messages/<lang>.json``), English by default.

The language is the ``lang`` query parameter (the switch in every page's header, remembered in a cookie), else
that cookie, else the best of ``Accept-Language`` (RFC 9110 §12.5.4) among the catalogs.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

from fastapi import Request

DEFAULT = "en"
LANGUAGES = ("en", "fr")
COOKIE = "vault_lang"


@cache
def catalog(lang: str) -> dict[str, str]:
    return json.loads(files("vault.console").joinpath("messages", f"{lang}.json").read_text("utf-8"))


def accepted(header: str) -> str | None:
    """The catalog language ``Accept-Language`` prefers most (``q`` weights; ``fr-CA`` counts as ``fr``)."""
    ranked = []
    for n, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-q, n, tag.strip().split("-")[0].lower()))
    return next((lang for _, _, lang in sorted(ranked) if lang in LANGUAGES), None)


def language(request: Request) -> str:
    for lang in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if lang in LANGUAGES:
            return lang
    return accepted(request.headers.get("accept-language", "")) or DEFAULT


class Translator:
    """``t("key", name=value)``: the message of the page's language, its ``{name}`` fields filled in."""

    def __init__(self, lang: str):
        self.lang = lang
        self._messages = catalog(lang)

    def __call__(self, key: str, **fields) -> str:
        text = self._messages.get(key) or catalog(DEFAULT)[key]
        return text.format(**fields) if fields else text
