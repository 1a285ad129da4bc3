"""Retention policy files (``policies/*.toml``): loading and validation.

A policy names how long a proof is kept and from which event the period runs. Nothing is ever kept less than ten
years: a file that says otherwise stops the service at start, naming the file and the field.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from vault.retention.period import Period, PeriodError

MINIMUM_YEARS = 10
START_EVENTS = ("deposit", "event_time")
FINAL_ACTIONS = ("destroy", "review", "keep")
DEFAULT_PERSONAL_FIELDS = ("sender", "recipient", "filename")
HASH_ALGORITHMS = ("sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
EXTRA_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,25}"
"""An ``indexed_extra`` name: short enough that ``extra.<name>`` fits the journal's pseudonym kind (32)."""
_EXTRA_NAME = re.compile(f"^{EXTRA_NAME}$")
DEFAULT_MAX_BACKDATE = "P1Y"
FUTURE_TOLERANCE = timedelta(minutes=5)
"""An event time may run ahead of the archive's clock by this much (the depositor's clock may be slightly fast)."""


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
    final_action: str = "destroy"
    reseal_interval: Period | None = None
    hash_algorithms: tuple[str, ...] = ("sha256",)
    min_copies: int = 1
    personal_fields: tuple[str, ...] = DEFAULT_PERSONAL_FIELDS
    refuse_invalid_signatures: bool = False
    """Refuse a deposit (422) when a signature in it is ``invalid`` (issue 8); indeterminate ones are accepted."""
    max_backdate: Period = Period.parse(DEFAULT_MAX_BACKDATE)
    """How far before its deposit an object's event time may lie (issue 18): a depositor cannot make a proof due at
    once by back-dating the event its retention counts from. Migrations of historical proofs use a policy of their
    own with a longer one (e.g. P40Y)."""
    indexed_extra: tuple[str, ...] = ()
    """``extra`` fields searchable as ``?extra.<name>=`` (issue 21): their values are indexed at deposit."""
    erasable_fields: tuple[str, ...] = ()
    """Personal fields whose values may be erased on request (GDPR art. 17, within art. 17(3)(e)): a subset of
    ``personal_fields`` (issue 22, ``POST /v1/objects/{id}/erasure``)."""
    text: str = ""

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def describe(self) -> dict:
        """The policy as JSON (``vault policies show``, ``GET /v1/policies``)."""
        return {
            "id": self.id, "version": self.version, "title": self.title, "legal_basis": self.legal_basis.strip(),
            "duration": self.duration.text, "start": self.start, "final_action": self.final_action,
            "reseal_interval": self.reseal_interval.text if self.reseal_interval else None,
            "hash_algorithms": list(self.hash_algorithms), "min_copies": self.min_copies,
            "personal_fields": list(self.personal_fields),
            "refuse_invalid_signatures": self.refuse_invalid_signatures, "max_backdate": self.max_backdate.text,
            "indexed_extra": list(self.indexed_extra), "erasable_fields": list(self.erasable_fields),
            "source": self.source,
        }

    def event_time_window(self, deposited_at: datetime) -> tuple[datetime, datetime]:
        """The event times a deposit made at ``deposited_at`` may carry: no earlier than ``max_backdate`` before it,
        no later than :data:`FUTURE_TOLERANCE` after it."""
        return self.max_backdate.before(deposited_at), deposited_at + FUTURE_TOLERANCE

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
    final_action = data.get("final_action", "destroy")
    if final_action not in FINAL_ACTIONS:
        raise PolicyError(f"{where}: field 'final_action' must be one of {', '.join(FINAL_ACTIONS)}, got {final_action!r}")
    reseal_interval = None
    if "reseal_interval" in data:
        try:
            reseal_interval = Period.parse(_require(data, "reseal_interval", str, where))
        except PeriodError as exc:
            raise PolicyError(f"{where}: field 'reseal_interval': {exc}") from None
    hash_algorithms = tuple(_string_list(data, "hash_algorithms", ["sha256"], where))
    unknown = [a for a in hash_algorithms if a not in HASH_ALGORITHMS]
    if unknown or not hash_algorithms:
        raise PolicyError(f"{where}: field 'hash_algorithms' must list some of {', '.join(HASH_ALGORITHMS)}"
                          + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    min_copies = data.get("min_copies", 1)
    if not isinstance(min_copies, int) or isinstance(min_copies, bool) or not 1 <= min_copies <= 10:
        raise PolicyError(f"{where}: field 'min_copies' must be a whole number from 1 to 10")
    personal_fields = tuple(_string_list(data, "personal_fields", list(DEFAULT_PERSONAL_FIELDS), where))
    refuse_invalid = data.get("refuse_invalid_signatures", False)
    if not isinstance(refuse_invalid, bool):
        raise PolicyError(f"{where}: field 'refuse_invalid_signatures' must be true or false")
    max_backdate = _max_backdate(data, where)
    indexed_extra = tuple(_string_list(data, "indexed_extra", [], where))
    bad = [name for name in indexed_extra if not _EXTRA_NAME.match(name)]
    if bad:
        raise PolicyError(f"{where}: field 'indexed_extra': {', '.join(map(repr, bad))} must be letters, digits "
                          "and underscores, at most 26, not starting with a digit")
    erasable = tuple(_string_list(data, "erasable_fields", [], where))
    not_personal = [name for name in erasable if name not in personal_fields]
    if not_personal:
        raise PolicyError(f"{where}: field 'erasable_fields': {', '.join(map(repr, not_personal))} not in "
                          "'personal_fields' (only a personal value, kept as a commitment, can be erased)")
    known = {"erasable_fields", "indexed_extra", "id", "version", "title", "legal_basis", "duration", "start", "final_action", "reseal_interval",
             "hash_algorithms", "min_copies", "personal_fields", "refuse_invalid_signatures", "max_backdate"}
    extra = sorted(set(data) - known)
    if extra:
        raise PolicyError(f"{where}: unknown field(s) {', '.join(extra)} (known: {', '.join(sorted(known))})")
    return RetentionPolicy(
        id=policy_id,
        version=version,
        title=_require(data, "title", str, where),
        legal_basis=_require(data, "legal_basis", str, where),
        duration=duration,
        start=start,
        source=where,
        final_action=final_action,
        reseal_interval=reseal_interval,
        hash_algorithms=hash_algorithms,
        min_copies=min_copies,
        personal_fields=personal_fields,
        refuse_invalid_signatures=refuse_invalid,
        max_backdate=max_backdate,
        indexed_extra=indexed_extra,
        erasable_fields=erasable,
        text=text,
    )


def _max_backdate(data: dict, where: str) -> Period:
    """``max_backdate``: an ISO 8601 duration of at most a hundred years (default P1Y)."""
    try:
        period = Period.parse(data.get("max_backdate", DEFAULT_MAX_BACKDATE))
        if period.before(datetime(2100, 1, 1)) < datetime(2000, 1, 1):
            raise PeriodError(f"{period.text} is longer than a hundred years")
    except (PeriodError, ValueError, OverflowError) as exc:
        raise PolicyError(f"{where}: field 'max_backdate': {exc}") from None
    return period


def _string_list(data: dict, key: str, default: list[str], where: str) -> list[str]:
    value = data.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PolicyError(f"{where}: field '{key}' must be a list of non-empty strings")
    return value


class PolicyBook:
    """The policies in force, by id (the newest version of each id), and every version known, by (id, version)."""

    def __init__(self, policies: list[RetentionPolicy]):
        self._by_id: dict[str, RetentionPolicy] = {}
        self._versions: dict[tuple[str, int], RetentionPolicy] = {}
        for policy in sorted(policies, key=lambda p: (p.id, p.version)):
            previous = self._versions.get((policy.id, policy.version))
            if previous:
                raise PolicyError(
                    f"{policy.source}: policy '{policy.id}' version {policy.version} is also defined in {previous.source}"
                )
            self._versions[(policy.id, policy.version)] = policy
            self._by_id[policy.id] = policy

    def add_version(self, policy: RetentionPolicy) -> None:
        """Know an older version (kept in the database once used) without making it the one in force."""
        self._versions.setdefault((policy.id, policy.version), policy)

    def version(self, policy_id: str, version: int) -> RetentionPolicy | None:
        return self._versions.get((policy_id, version))

    def versions(self) -> list[RetentionPolicy]:
        return [self._versions[k] for k in sorted(self._versions)]

    def get(self, policy_id: str) -> RetentionPolicy | None:
        return self._by_id.get(policy_id)

    def ids(self) -> list[str]:
        return sorted(self._by_id)

    def __iter__(self):
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def indexed_extra(self) -> frozenset[str]:
        """Every ``extra`` field some policy in force declares searchable."""
        return frozenset(name for policy in self._by_id.values() for name in policy.indexed_extra)


def load_policies(directory: Path) -> PolicyBook:
    """Read every ``*.toml`` in ``directory``; raises :class:`PolicyError` on the first bad file."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PolicyError(f"{directory}: policies directory not found (set VAULT_POLICIES_DIR)")
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise PolicyError(f"{directory}: no *.toml policy files")
    return PolicyBook([parse_policy(path.read_text(encoding="utf-8"), str(path)) for path in files])
