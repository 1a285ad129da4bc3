"""Console sessions: a random id in a cookie stands for the principal a key resolved to at sign-in.

Kept in memory (one process; a restart signs everyone out, and scaled deployments pin a browser to one API
replica or sign in again). A session keeps the SHA-256 digest of the key, never the key, so that each request
re-checks revocation and expiry through :meth:`vault.auth.keys.KeyRing.resolve_digest`; it ends after
``VAULT_CONSOLE_IDLE_TIMEOUT`` without a request, at sign-out, or when the key no longer resolves.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

COOKIE = "vault_session"
MAX_SESSIONS = 10_000


@dataclass
class Session:
    key_digest: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    last_seen: float = 0.0


class SessionStore:
    """Sessions by id (``secrets.token_urlsafe(32)``: 256 random bits), dropped after ``idle_seconds`` unused."""

    def __init__(self, idle_seconds: float, monotonic: Callable[[], float] = time.monotonic):
        self.idle_seconds = idle_seconds
        self._now = monotonic
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, key_digest: str) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        session = Session(key_digest, last_seen=self._now())
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                self._drop_idle()
            self._sessions[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session, its idle clock restarted; None (and forgotten) once idle too long."""
        if not session_id:
            return None
        now = self._now()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.idle_seconds:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def _drop_idle(self) -> None:
        now = self._now()
        for session_id in [s for s, v in self._sessions.items() if now - v.last_seen > self.idle_seconds]:
            del self._sessions[session_id]
