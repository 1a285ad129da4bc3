"""Retention policy files (``policies/*.toml``): loading and validation.

A policy names how long a proof is kept and from which event the period runs. Nothing is ever kept less than ten
years: a file that says otherwise stops the service at start, naming the file and the field.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vault.retention.period import Period, PeriodError

MINIMUM_YEARS = 10
START_EVENTS = ("deposit", "event_time")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class PolicyError(ValueError):
    """A policy file is unusable; the message names the file and the field."""


@dataclass(frozen=True)
class RetentionPolicy:
    id: str
    version: int
    title: str
    legal_basis: str
    duration: Period
    start: str
    source: str

    def retention_until(self, deposited_at: datetime, event_time: datetime | None) -> datetime | None:
        """End of retention, or None while the start event is unknown (such an object is never due)."""
        if self.start == "deposit":
            return self.duration.after(deposited_at)
        if self.start == "event_time":
            return self.duration.after(event_time) if event_time else None
        return None

    def retention_start(self, deposited_at: datetime, event_time: datetime | None) -> datetime | None:
        if self.start == "deposit":
            return deposited_at
        if self.start == "event_time":
            return event_time
        return None


def _require(data: dict, key: str, kind: type, where: str):
    if key not in data:
        raise PolicyError(f"{where}: missing field '{key}'")
    value = data[key]
    if not isinstance(value, kind) or (kind is str and not value.strip()):
        raise PolicyError(f"{where}: field '{key}' must be a non-empty {kind.__name__}")
    return value


def parse_policy(text: str, where: str) -> RetentionPolicy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{where}: not valid TOML ({exc})") from None
    policy_id = _require(data, "id", str, where)
    if not _ID.match(policy_id):
        raise PolicyError(f"{where}: field 'id' must be lowercase letters, digits and dashes, got {policy_id!r}")
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PolicyError(f"{where}: field 'version' must be a whole number ≥ 1")
    try:
        duration = Period.parse(_require(data, "duration", str, where))
    except PeriodError as exc:
        raise PolicyError(f"{where}: field 'duration': {exc}") from None
    if not duration.at_least(MINIMUM_YEARS):
        raise PolicyError(
            f"{where}: field 'duration' is {duration.text}, under the {MINIMUM_YEARS}-year minimum for any proof"
        )
    start = data.get("start", "deposit")
    if start not in START_EVENTS and not (isinstance(start, str) and re.match(r"^[a-z_][a-z0-9_]{0,62}$", start)):
        raise PolicyError(f"{where}: field 'start' must be 'deposit', 'event_time' or a metadata field name")
    return RetentionPolicy(
        id=policy_id,
        version=version,
        title=_require(data, "title", str, where),
        legal_basis=_require(data, "legal_basis", str, where),
        duration=duration,
        start=start,
        source=where,
    )


class PolicyBook:
    """The policies in force, by id (the newest version of each id)."""

    def __init__(self, policies: list[RetentionPolicy]):
        self._by_id: dict[str, RetentionPolicy] = {}
        for policy in sorted(policies, key=lambda p: (p.id, p.version)):
            previous = self._by_id.get(policy.id)
            if previous and previous.version == policy.version:
                raise PolicyError(
                    f"{policy.source}: policy '{policy.id}' version {policy.version} is also defined in {previous.source}"
                )
            self._by_id[policy.id] = policy

    def get(self, policy_id: str) -> RetentionPolicy | None:
        return self._by_id.get(policy_id)

    def ids(self) -> list[str]:
        return sorted(self._by_id)

    def __iter__(self):
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)


def load_policies(directory: Path) -> PolicyBook:
    """Read every ``*.toml`` in ``directory``; raises :class:`PolicyError` on the first bad file."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PolicyError(f"{directory}: policies directory not found (set VAULT_POLICIES_DIR)")
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise PolicyError(f"{directory}: no *.toml policy files")
    return PolicyBook([parse_policy(path.read_text(encoding="utf-8"), str(path)) for path in files])
