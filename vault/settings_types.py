"""The kinds of ``VAULT_*`` value: each parser takes the variable's name and its non-empty text, and returns the
typed value or raises :class:`SettingsError` with a message naming the variable."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

Parser = Callable[[str, str], Any]


class SettingsError(ValueError):
    """A ``VAULT_*`` variable has a value we cannot use; the message names the variable."""


def kind(description: str) -> Callable[[Parser], Parser]:
    """Name the kind of value a parser accepts, for the settings table."""
    def named(parse: Parser) -> Parser:
        parse.kind = description  # type: ignore[attr-defined]
        return parse
    return named


@kind("text")
def text(_name: str, raw: str) -> str:
    return raw


@kind("path")
def path(_name: str, raw: str) -> Path:
    return Path(raw)


def integer(minimum: int = 0, maximum: int = 2**63 - 1) -> Parser:
    """A whole number in ``[minimum, maximum]``."""
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a whole number") from None
        if value < minimum:
            raise SettingsError(f"{name}={value} is below the minimum {minimum}")
        if value > maximum:
            raise SettingsError(f"{name}={value} is above the maximum {maximum}")
        return value
    return kind(f"integer ≥ {minimum}" + (f", ≤ {maximum}" if maximum < 2**63 - 1 else ""))(parse)


@kind("number > 0")
def positive_number(name: str, raw: str) -> float:
    """A finite number above 0 (seconds, mostly)."""
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise SettingsError(f"{name}={value} must be a finite number above 0")
    return value


def choice(*allowed: str) -> Parser:
    def parse(name: str, raw: str) -> str:
        if raw not in allowed:
            raise SettingsError(f"{name}={raw!r}: use one of {', '.join(allowed)}")
        return raw
    return kind(" or ".join(f"`{a}`" for a in allowed))(parse)


@kind("`true` or `false`")
def boolean(name: str, raw: str) -> bool:
    if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(f"{name}={raw!r}: use true or false")
    return raw.lower() in ("true", "1", "yes")


@kind("comma-separated list")
def comma_list(_name: str, raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@kind("comma-separated list")
def comma_joined(name: str, raw: str) -> str:
    return ",".join(comma_list(name, raw))


@kind("hash algorithm")
def algorithm(name: str, raw: str) -> str:
    """A hash algorithm name, normalised (``SHA-256`` → ``sha256``)."""
    from vault_verify.asn1 import algorithm_name

    try:
        return algorithm_name(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


@kind("hash algorithms, comma-separated")
def algorithms(name: str, raw: str) -> tuple[str, ...]:
    return tuple(algorithm(name, item) for item in comma_list(name, raw))


@kind("ISO 8601 duration")
def duration(name: str, raw: str) -> str:
    """An ISO 8601 duration of a fixed length: days, hours, minutes or seconds (``P7D``, ``PT12H``)."""
    try:
        duration_of(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None
    return raw


def duration_within(shortest: timedelta, longest: timedelta) -> Parser:
    @kind(f"ISO 8601 duration, {_iso(shortest)} to {_iso(longest)}")
    def parse(name: str, raw: str) -> str:
        if not shortest <= duration_of(duration(name, raw)) <= longest:
            raise SettingsError(f"{name}={raw}: give {_iso(shortest)} to {_iso(longest)}")
        return raw
    return parse


def _iso(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"PT{seconds // 3600}H" if seconds % 3600 == 0 else f"PT{seconds}S"


@kind("number above 0 and below 1")
def share(name: str, raw: str) -> float:
    value = positive_number(name, raw)
    if value >= 1:
        raise SettingsError(f"{name}={value}: give a share below 1 (0.01 is 1 %)")
    return value


@kind("comma-separated http(s) URLs")
def http_urls(name: str, raw: str) -> tuple[str, ...]:
    urls = comma_list(name, raw)
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise SettingsError(f"{name}: {url.split('://')[0]!r}… is not an http:// or https:// URL")
    return urls


@kind("text of at least 12 characters")
def passphrase(name: str, raw: str) -> str:
    """A passphrase that seals secrets (never echoed back)."""
    if len(raw) < 12:
        raise SettingsError(f"{name} is {len(raw)} characters long: give at least 12")
    return raw


@kind("smtp:// or smtps:// URL")
def smtp_url(name: str, raw: str) -> str:
    from vault.monitoring.delivery import SmtpServer

    try:
        SmtpServer.parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None
    return raw


def duration_of(text: str) -> timedelta:
    """The :class:`datetime.timedelta` of a duration setting (checked by :func:`duration`)."""
    from vault.retention.period import Period

    return Period.parse(text).exact()


@kind("regular expression")
def case_ref_regex(name: str, raw: str) -> str:
    """A regular expression with a named group ``case_ref``."""
    try:
        compiled = re.compile(raw)
    except re.error as exc:
        raise SettingsError(f"{name}: not a regular expression: {exc}") from None
    if "case_ref" not in compiled.groupindex:
        raise SettingsError(f"{name}: the pattern needs a named group (?P<case_ref>...)")
    return raw


@kind("API key")
def api_key(name: str, raw: str) -> str:
    """An API key given in the environment: as long as the keys the archive issues (never echoed back)."""
    from vault.auth.keys import MIN_KEY_LENGTH

    if len(raw) < MIN_KEY_LENGTH:
        raise SettingsError(f"{name} is {len(raw)} characters long: give at least {MIN_KEY_LENGTH}")
    return raw


@kind("existing file")
def existing_file(name: str, raw: str) -> Path:
    if not Path(raw).is_file():
        raise SettingsError(f"{name}={raw}: no such file")
    return Path(raw)


@kind("existing directory")
def existing_dir(name: str, raw: str) -> Path:
    if not Path(raw).is_dir():
        raise SettingsError(f"{name}={raw}: no such directory")
    return Path(raw)


@kind("readable file")
def readable_file(name: str, raw: str) -> Path:
    if not (Path(raw).is_file() and os.access(raw, os.R_OK)):
        raise SettingsError(f"{name}={raw!r} is not a readable file")
    return Path(raw)
