"""API keys: random bearer secrets, stored only as SHA-256 hashes, with a holder, an expiry, rotation and
revocation.

A key is 32 random bytes (256 bits), so an unsalted hash is safe to store: there is nothing to brute-force.
Lookups hash the presented secret and find the row by that hash (or by the previous secret's hash while a
rotation's overlap lasts); the cache keeps answers for at most ``CACHE_SECONDS`` so that deposits do not pay a
database round trip each, which bounds how long a revocation takes to reach every replica.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from vault.auth.roles import ALL_TENANTS, PERSONAL_ROLES, Principal, Role, valid_tenant
from vault.clock import iso_z
from vault.db.tables import ApiKey

KEY_PREFIX = "vault_"
MIN_KEY_LENGTH = 24
CACHE_SECONDS = 4.0
"""A revoked or expired key stops working within this many seconds on every replica (the issue asks ≤ 5 s)."""

KEYS = ApiKey.__table__


class KeyRequestError(ValueError):
    """A key request is malformed (bad role, tenant, holder or secret)."""


class UnknownKey(LookupError):
    """No key with that id (or none the caller may see)."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "k" + secrets.token_hex(8)


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    secret: str
    role: Role
    tenant: str
    holder: str | None = None
    expires_at: datetime | None = None


def insert_key(connection: Connection, *, role: Role, tenant: str, now: datetime, created_by: str | None,
               label: str | None = None, secret: str | None = None, holder: str | None = None,
               expires_at: datetime | None = None) -> IssuedKey:
    if not valid_tenant(tenant, role):
        raise KeyRequestError(
            f"tenant {tenant!r} is not allowed for role {role.value}: use letters, digits, '.', '_' or '-'"
            + ("" if role != Role.DEPOSITOR else " (a depositor is bound to exactly one tenant)")
        )
    holder = holder.strip() if holder else None
    if role in PERSONAL_ROLES and not holder and created_by is not None:
        raise KeyRequestError(f"a {role.value} key acts for a person: give 'holder' (who holds it, e.g. an e-mail "
                              "address); four-eyes destruction counts holders")
    if expires_at is not None and expires_at <= now:
        raise KeyRequestError(f"'expires_at' {iso_z(expires_at)} is not in the future")
    secret = secret or new_secret()
    if len(secret) < MIN_KEY_LENGTH:
        raise KeyRequestError(f"an API key must be at least {MIN_KEY_LENGTH} characters long")
    key_id = new_key_id()
    connection.execute(
        insert(KEYS).values(
            id=key_id, secret_hash=hash_secret(secret), role=role.value, tenant=tenant,
            label=label, created_at=now, created_by=created_by, holder=holder, expires_at=expires_at,
        )
    )
    return IssuedKey(key_id, secret, role, tenant, holder, expires_at)


def key_view(row) -> dict:
    """What anyone allowed to manage a key sees of it: never its secret nor the secret's hash."""
    revoked = row["revoked_at"]
    return {"key_id": row["id"], "role": row["role"], "tenant": row["tenant"], "holder": row["holder"],
            "label": row["label"], "created_at": iso_z(row["created_at"]), "created_by": row["created_by"],
            "expires_at": iso_z(row["expires_at"]), "rotated_at": iso_z(row["rotated_at"]),
            "previous_secret_expires_at": iso_z(row["previous_expires_at"]) if row["previous_secret_hash"] else None,
            "revoked_at": iso_z(revoked), "status": "revoked" if revoked else "active"}


_VIEW_COLUMNS = (KEYS.c.id, KEYS.c.role, KEYS.c.tenant, KEYS.c.holder, KEYS.c.label, KEYS.c.created_at,
                 KEYS.c.created_by, KEYS.c.expires_at, KEYS.c.rotated_at, KEYS.c.previous_secret_hash,
                 KEYS.c.previous_expires_at, KEYS.c.revoked_at)


def list_keys(connection: Connection, tenant: str | None, *, include_revoked: bool = False) -> list[dict]:
    """Keys of ``tenant`` (every tenant's for None), oldest first."""
    query = select(*_VIEW_COLUMNS).order_by(KEYS.c.created_at, KEYS.c.id)
    if tenant is not None:
        query = query.where(KEYS.c.tenant == tenant)
    if not include_revoked:
        query = query.where(KEYS.c.revoked_at.is_(None))
    return [dict(r) for r in connection.execute(query).mappings()]


def get_key(connection: Connection, key_id: str) -> dict:
    row = connection.execute(select(*_VIEW_COLUMNS).where(KEYS.c.id == key_id)).mappings().first()
    if row is None:
        raise UnknownKey(key_id)
    return dict(row)


def revoke_key(connection: Connection, key_id: str, now: datetime) -> dict:
    """Mark the key revoked (idempotent: a revoked key keeps its first revocation time)."""
    connection.execute(update(KEYS).where(KEYS.c.id == key_id).where(KEYS.c.revoked_at.is_(None))
                       .values(revoked_at=now))
    return get_key(connection, key_id)


def rotate_key(connection: Connection, key_id: str, now: datetime, overlap: timedelta) -> tuple[dict, str]:
    """Give the key a new secret; the current one keeps working for ``overlap`` (zero: stops at once).

    The key keeps its id, holder, role, scope and age: rotation changes the secret, not who holds it."""
    secret = new_secret()
    result = connection.execute(
        update(KEYS).where(KEYS.c.id == key_id).where(KEYS.c.revoked_at.is_(None))
        .values(previous_secret_hash=KEYS.c.secret_hash, previous_expires_at=now + overlap,
                secret_hash=hash_secret(secret), rotated_at=now))
    if result.rowcount != 1:
        raise UnknownKey(key_id)
    return get_key(connection, key_id), secret


class KeyRing:
    """Resolves bearer secrets to principals, with a short positive cache (at most ``CACHE_SECONDS``)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], ttl_seconds: float = CACHE_SECONDS):
        self._engine = engine
        self._now = clock
        self._ttl = min(ttl_seconds, CACHE_SECONDS)
        self._cache: dict[str, tuple[float, Principal, datetime | None]] = {}
        self._lock = threading.Lock()

    def resolve(self, secret: str) -> Principal | None:
        return self.resolve_digest(hash_secret(secret))

    def resolve_digest(self, digest: str) -> Principal | None:
        """The principal of the key whose secret hashes to ``digest`` (a console session keeps only the digest),
        or None once it is unknown, revoked or expired (seen within ``CACHE_SECONDS``)."""
        tick = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit and hit[0] > tick and (hit[2] is None or hit[2] > self._now()):
            return hit[1]
        now = self._now()
        with self._engine.connect() as connection:
            row = connection.execute(
                select(KEYS.c.id, KEYS.c.role, KEYS.c.tenant, KEYS.c.holder, KEYS.c.created_at, KEYS.c.expires_at,
                       KEYS.c.secret_hash, KEYS.c.previous_expires_at)
                .where(or_(KEYS.c.secret_hash == digest,
                           and_(KEYS.c.previous_secret_hash == digest, KEYS.c.previous_expires_at > now)))
                .where(KEYS.c.revoked_at.is_(None))
                .where(or_(KEYS.c.expires_at.is_(None), KEYS.c.expires_at > now))
            ).first()
        if row is None:
            return None
        principal = Principal(key_id=row.id, role=Role(row.role), tenant=row.tenant, holder=row.holder,
                              created_at=row.created_at)
        ends = [t for t in (row.expires_at, None if row.secret_hash == digest else row.previous_expires_at) if t]
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (tick + self._ttl, principal, min(ends) if ends else None)
        return principal

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


def bootstrap_admin(engine: Engine, data_dir: Path, configured: str | None, now: datetime) -> Path | None:
    """Make sure an admin key exists: ``VAULT_ADMIN_KEY`` if set, else a new one written to ``admin.key`` (0600).

    Returns the path of a newly written key file, or None when nothing was written. A configured key that was
    rotated or revoked is not brought back: its row is also found by its label, which names the configured
    secret's hash, not by the current secret alone.
    """
    try:
        return _bootstrap(engine, data_dir, configured, now)
    except IntegrityError:  # another replica starting at the same moment inserted the configured key first
        return None


def _bootstrap(engine: Engine, data_dir: Path, configured: str | None, now: datetime) -> Path | None:
    with engine.begin() as connection:
        if configured:
            digest = hash_secret(configured)
            label = f"VAULT_ADMIN_KEY {digest[:16]}"
            exists = connection.execute(
                select(KEYS.c.id).where(or_(KEYS.c.secret_hash == digest, KEYS.c.label == label))
            ).first()
            if not exists:
                insert_key(connection, role=Role.ADMIN, tenant=ALL_TENANTS, now=now, created_by=None,
                           label=label, secret=configured, holder="bootstrap admin")
            return None
        any_key = connection.execute(select(KEYS.c.id).limit(1)).first()
        if any_key:
            return None
        issued = insert_key(connection, role=Role.ADMIN, tenant=ALL_TENANTS, now=now, created_by=None,
                            label="bootstrap admin", holder="bootstrap admin")
        path = Path(data_dir) / "admin.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(issued.secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(path, 0o600)
        return path
