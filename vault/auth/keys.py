"""API keys: random bearer secrets, stored only as SHA-256 hashes.

A key is 32 random bytes (256 bits), so an unsalted hash is safe to store: there is nothing to brute-force.
Lookups hash the presented secret and find the row by that hash; the cache keeps recent answers for a few
seconds so that deposits do not pay a database round trip each.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select

from vault.auth.roles import ALL_TENANTS, Principal, Role, valid_tenant
from vault.db.tables import ApiKey

KEY_PREFIX = "vault_"
MIN_KEY_LENGTH = 24


class KeyRequestError(ValueError):
    """A key request is malformed (bad role, tenant or secret)."""


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


def insert_key(connection: Connection, *, role: Role, tenant: str, now: datetime, created_by: str | None,
               label: str | None = None, secret: str | None = None) -> IssuedKey:
    if not valid_tenant(tenant, role):
        raise KeyRequestError(
            f"tenant {tenant!r} is not allowed for role {role.value}: use letters, digits, '.', '_' or '-'"
            + ("" if role != Role.DEPOSITOR else " (a depositor is bound to exactly one tenant)")
        )
    secret = secret or new_secret()
    if len(secret) < MIN_KEY_LENGTH:
        raise KeyRequestError(f"an API key must be at least {MIN_KEY_LENGTH} characters long")
    key_id = new_key_id()
    connection.execute(
        insert(ApiKey.__table__).values(
            id=key_id, secret_hash=hash_secret(secret), role=role.value, tenant=tenant,
            label=label, created_at=now, created_by=created_by,
        )
    )
    return IssuedKey(key_id, secret, role, tenant)


class KeyRing:
    """Resolves bearer secrets to principals, with a short positive cache."""

    def __init__(self, engine: Engine, ttl_seconds: float = 5.0):
        self._engine = engine
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def resolve(self, secret: str) -> Principal | None:
        digest = hash_secret(secret)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit and hit[0] > now:
            return hit[1]
        with self._engine.connect() as connection:
            row = connection.execute(
                select(ApiKey.__table__.c.id, ApiKey.__table__.c.role, ApiKey.__table__.c.tenant)
                .where(ApiKey.__table__.c.secret_hash == digest)
                .where(ApiKey.__table__.c.revoked_at.is_(None))
            ).first()
        if row is None:
            return None
        principal = Principal(key_id=row.id, role=Role(row.role), tenant=row.tenant)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, principal)
        return principal

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


def bootstrap_admin(engine: Engine, data_dir: Path, configured: str | None, now: datetime) -> Path | None:
    """Make sure an admin key exists: ``VAULT_ADMIN_KEY`` if set, else a new one written to ``admin.key`` (0600).

    Returns the path of a newly written key file, or None when nothing was written.
    """
    with engine.begin() as connection:
        if configured:
            exists = connection.execute(
                select(ApiKey.__table__.c.id).where(ApiKey.__table__.c.secret_hash == hash_secret(configured))
            ).first()
            if not exists:
                insert_key(connection, role=Role.ADMIN, tenant=ALL_TENANTS, now=now, created_by=None,
                           label="VAULT_ADMIN_KEY", secret=configured)
            return None
        any_key = connection.execute(select(ApiKey.__table__.c.id).limit(1)).first()
        if any_key:
            return None
        issued = insert_key(connection, role=Role.ADMIN, tenant=ALL_TENANTS, now=now, created_by=None,
                            label="bootstrap admin")
        path = Path(data_dir) / "admin.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(issued.secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(path, 0o600)
        return path
