"""Every ``VAULT_*`` setting in one typed place, with defaults for the embedded setup.

Domain code never reads this object: the composition root (:mod:`vault.app`) passes each service what it needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path


class SettingsError(ValueError):
    """A ``VAULT_*`` variable has a value we cannot use; the message names the variable."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0, maximum: int = 2**63 - 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} is below the minimum {minimum}")
    if value > maximum:
        raise SettingsError(f"{name}={value} is above the maximum {maximum}")
    return value


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise SettingsError(f"{name}={value} must be a finite number above 0")
    return value


def _choice(env: dict[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(name) or default
    if value not in allowed:
        raise SettingsError(f"{name}={value!r}: use one of {', '.join(allowed)}")
    return value


def _algorithm(env: dict[str, str], name: str, default: str) -> str:
    from vault_verify.asn1 import algorithm_name

    try:
        return algorithm_name(env.get(name) or default)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def _duration(env: dict[str, str], name: str, default: str) -> str:
    """An ISO 8601 duration of a fixed length: days, hours, minutes or seconds (``P7D``, ``PT12H``)."""
    raw = env.get(name) or default
    try:
        duration_of(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None
    return raw


def duration_of(text: str) -> "timedelta":
    """The :class:`datetime.timedelta` of a duration setting (checked by ``_duration``)."""
    from vault.retention.period import Period

    return Period.parse(text).exact()


def _pattern(env: dict[str, str], name: str) -> str | None:
    import re

    raw = env.get(name) or None
    if raw is None:
        return None
    try:
        compiled = re.compile(raw)
    except re.error as exc:
        raise SettingsError(f"{name}: not a regular expression: {exc}") from None
    if "case_ref" not in compiled.groupindex:
        raise SettingsError(f"{name}: the pattern needs a named group (?P<case_ref>...)")
    return raw


def _tls(env: dict[str, str]) -> dict[str, Path | None]:
    """``VAULT_TLS_CERT`` and ``VAULT_TLS_KEY``: both or neither, each a readable file (PEM)."""
    paths = {name: env.get(name) or None for name in ("VAULT_TLS_CERT", "VAULT_TLS_KEY")}
    given = [name for name, value in paths.items() if value]
    if len(given) == 1:
        missing = ({"VAULT_TLS_CERT", "VAULT_TLS_KEY"} - set(given)).pop()
        raise SettingsError(f"{given[0]} is set but {missing} is not: give both to serve HTTPS, or neither")
    for name, value in paths.items():
        if value and not (Path(value).is_file() and os.access(value, os.R_OK)):
            raise SettingsError(f"{name}={value!r} is not a readable file")
    return {"tls_cert": Path(paths["VAULT_TLS_CERT"]) if given else None,
            "tls_key": Path(paths["VAULT_TLS_KEY"]) if given else None}


def _secret(env: dict[str, str], name: str) -> str | None:
    """An API key given in the environment: as long as the keys the archive issues (never echoed back)."""
    from vault.auth.keys import MIN_KEY_LENGTH

    value = env.get(name) or None
    if value is not None and len(value) < MIN_KEY_LENGTH:
        raise SettingsError(f"{name} is {len(value)} characters long: give at least {MIN_KEY_LENGTH}")
    return value


def _existing(env: dict[str, str], name: str, directory: bool = False) -> Path | None:
    """A path that must already exist: a file, or a directory when ``directory``."""
    raw = env.get(name)
    if not raw:
        return None
    path = Path(raw)
    if not (path.is_dir() if directory else path.is_file()):
        raise SettingsError(f"{name}={raw}: no such {'directory' if directory else 'file'}")
    return path


def _passphrase(env: dict[str, str], name: str, minimum: int = 12) -> str | None:
    """A passphrase that seals secrets: unset, or at least ``minimum`` characters (never echoed back)."""
    value = env.get(name) or None
    if value is not None and len(value) < minimum:
        raise SettingsError(f"{name} is {len(value)} characters long: give at least {minimum}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    policies_dir: Path = Path("policies")
    admin_key: str | None = None
    max_upload_bytes: int = 256 * 1024 * 1024
    max_metadata_bytes: int = 64 * 1024
    orphan_grace_seconds: int = 900
    write_batch_max: int = 256
    commit_delay_ms: int = 2
    instance: str = "local"
    checkpoint_interval: int = 5
    tsa_urls: tuple[str, ...] = ()
    tsa_roots: Path | None = None
    tsa_policy: str | None = None
    tsa_username: str | None = None
    tsa_password: str | None = None
    seal_interval: float = 10.0
    seal_batch_max: int = 100_000
    seal_hash: str = "sha256"
    weak_hashes: tuple[str, ...] = ()
    renewal_margin_days: int = 180
    reseal_interval_days: int = 730
    anchor_interval: float = 3600.0
    stores: tuple[str, ...] = ()
    copy_quorum: int | None = None
    lock_margin_days: int = 30
    copy_interval: float = 30.0
    audit_interval: float = 86400.0
    audit_sample: int = 1000
    audit_rate_bytes: int = 50 * 1024 * 1024
    background: str = "in-process"
    trust_dir: Path | None = None
    case_chain: Path | None = None
    case_ref_pattern: str | None = None
    validate_max_bytes: int = 64 * 1024 * 1024
    key_rotation_overlap: str = "PT24H"
    disposal_key_min_age: str = "P7D"
    disposal_notice: str = "P7D"
    body_timeout: float = 60.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    forwarded_allow_ips: str = ""
    min_free_bytes: int | None = None  # None: 1 GiB or 5 % of the data filesystem, whichever is lower
    extra_env: dict[str, str] = field(default_factory=dict, repr=False)
    backup_passphrase: str | None = field(default=None, repr=False)  # seals the keys in `vault backup` (scrypt)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def effective_trust_dir(self) -> Path:
        """Trust anchors for signature validation (certificates, PEM or DER): ``VAULT_TRUST_DIR`` or ``$DATA/trust``."""
        return self.trust_dir or self.data_dir / "trust"

    @property
    def tsa_dir(self) -> Path:
        """Keys and certificates of the built-in development TSA."""
        return self.data_dir / "tsa"

    @property
    def journal_origin(self) -> str:
        """The checkpoint origin line and note key name (c2sp.org/tlog-checkpoint)."""
        return f"vault.{self.instance}/journal"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vault.db').resolve()}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        """Read the ``VAULT_*`` variables; unknown values raise :class:`SettingsError` naming the variable."""
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("VAULT_DATA_DIR") or "var")
        return cls(
            data_dir=data_dir,
            host=env.get("VAULT_HOST") or "127.0.0.1",
            port=_int(env, "VAULT_PORT", 8000, minimum=0, maximum=65535),
            database_url=env.get("VAULT_DATABASE_URL") or "",
            policies_dir=Path(env.get("VAULT_POLICIES_DIR") or "policies"),
            admin_key=_secret(env, "VAULT_ADMIN_KEY"),
            max_upload_bytes=_int(env, "VAULT_MAX_UPLOAD_BYTES", 256 * 1024 * 1024, minimum=1),
            max_metadata_bytes=_int(env, "VAULT_MAX_METADATA_BYTES", 64 * 1024, minimum=256),
            orphan_grace_seconds=_int(env, "VAULT_ORPHAN_GRACE_SECONDS", 900),
            write_batch_max=_int(env, "VAULT_WRITE_BATCH_MAX", 256, minimum=1),
            commit_delay_ms=_int(env, "VAULT_COMMIT_DELAY_MS", 2, minimum=0),
            instance=env.get("VAULT_INSTANCE") or "local",
            checkpoint_interval=_int(env, "VAULT_CHECKPOINT_INTERVAL", 5, minimum=1),
            tsa_urls=tuple(u.strip() for u in (env.get("VAULT_TSA_URLS") or "").split(",") if u.strip()),
            tsa_roots=_existing(env, "VAULT_TSA_ROOTS"),
            tsa_policy=env.get("VAULT_TSA_POLICY") or None,
            tsa_username=env.get("VAULT_TSA_USERNAME") or None,
            tsa_password=env.get("VAULT_TSA_PASSWORD") or None,
            seal_interval=_float(env, "VAULT_SEAL_INTERVAL", 10.0),
            seal_batch_max=_int(env, "VAULT_SEAL_BATCH_MAX", 100_000, minimum=1),
            seal_hash=_algorithm(env, "VAULT_SEAL_HASH", "sha256"),
            weak_hashes=tuple(_algorithm({"VAULT_WEAK_HASHES": w}, "VAULT_WEAK_HASHES", w)
                              for w in (env.get("VAULT_WEAK_HASHES") or "").split(",") if w.strip()),
            renewal_margin_days=_int(env, "VAULT_RENEWAL_MARGIN_DAYS", 180, minimum=1),
            reseal_interval_days=_int(env, "VAULT_RESEAL_INTERVAL_DAYS", 730, minimum=1),
            anchor_interval=_float(env, "VAULT_ANCHOR_INTERVAL", 3600.0),
            stores=tuple(u.strip() for u in (env.get("VAULT_STORES") or "").split(",") if u.strip()),
            copy_quorum=_int(env, "VAULT_COPY_QUORUM", 0, minimum=1) if env.get("VAULT_COPY_QUORUM") else None,
            lock_margin_days=_int(env, "VAULT_LOCK_MARGIN_DAYS", 30),
            copy_interval=_float(env, "VAULT_COPY_INTERVAL", 30.0),
            audit_interval=_float(env, "VAULT_AUDIT_INTERVAL", 86400.0),
            audit_sample=_int(env, "VAULT_AUDIT_SAMPLE", 1000, minimum=1),
            audit_rate_bytes=_int(env, "VAULT_AUDIT_RATE_BYTES", 50 * 1024 * 1024, minimum=1024),
            background=_choice(env, "VAULT_BACKGROUND", ("in-process", "off"), "in-process"),
            trust_dir=_existing(env, "VAULT_TRUST_DIR", directory=True),
            case_chain=_existing(env, "VAULT_CASE_CHAIN"),
            case_ref_pattern=_pattern(env, "VAULT_CASE_REF_PATTERN"),
            validate_max_bytes=_int(env, "VAULT_VALIDATE_MAX_BYTES", 64 * 1024 * 1024, minimum=0),
            key_rotation_overlap=_duration(env, "VAULT_KEY_ROTATION_OVERLAP", "PT24H"),
            disposal_key_min_age=_duration(env, "VAULT_DISPOSAL_KEY_MIN_AGE", "P7D"),
            disposal_notice=_duration(env, "VAULT_DISPOSAL_NOTICE", "P7D"),
            body_timeout=_float(env, "VAULT_BODY_TIMEOUT", 60.0),
            **_tls(env),
            forwarded_allow_ips=",".join(ip.strip() for ip in (env.get("VAULT_FORWARDED_ALLOW_IPS") or "").split(",")
                                         if ip.strip()),
            min_free_bytes=_int(env, "VAULT_MIN_FREE_BYTES", 0) if env.get("VAULT_MIN_FREE_BYTES") else None,
            backup_passphrase=_passphrase(env, "VAULT_BACKUP_PASSPHRASE"),
        )

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)
