"""Keyed pseudonyms for personal data in journal entries (GDPR art. 4(5) pseudonymisation).

An entry never holds a search term, a party identifier or a case reference in clear: it holds
``p1:<hex>`` = HMAC-SHA-256(key, kind ‖ 0x00 ‖ value) truncated to 128 bits. The clear value sits in
``journal_pseudonyms``, outside the Merkle log, so erasing a person's data deletes that row and leaves the log —
and every proof over it — intact. The key lives in ``$VAULT_DATA_DIR/journal-pseudonym.key`` (0600).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from vault.db.tables import JournalPseudonym
from vault.db.writer import stage

TABLE = JournalPseudonym.__table__
PREFIX = "p1:"
_INSERT = {"sqlite": sqlite.insert(TABLE).on_conflict_do_nothing(),
           "postgresql": postgresql.insert(TABLE).on_conflict_do_nothing()}


def load_or_create_key(data_dir: Path) -> bytes:
    path = Path(data_dir) / "journal-pseudonym.key"
    if path.exists():
        key = bytes.fromhex(path.read_text().strip())
        if len(key) != 32:
            raise ValueError(f"{path} must hold 32 bytes in hex")
        return key
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


class Pseudonymizer:
    def __init__(self, key: bytes):
        self._key = key

    def pseudonym(self, kind: str, value: str) -> str:
        digest = hmac.new(self._key, kind.encode() + b"\x00" + value.encode("utf-8"), hashlib.sha256).digest()
        return PREFIX + digest[:16].hex()

    def record(self, connection: Connection, kind: str, value: str, at) -> str:
        """The pseudonym of ``value``, remembering the clear value (once) in the erasable table."""
        name = self.pseudonym(kind, value)
        stage(connection, _INSERT[connection.dialect.name], {"pseudonym": name, "kind": kind, "value": value,
                                                              "created_at": at})
        return name

    def erase(self, connection: Connection, kind: str, value: str) -> tuple[str, bool]:
        """Forget the clear value behind a pseudonym; the pseudonym stays in the log, unlinkable without the row."""
        name = self.pseudonym(kind, value)
        removed = connection.execute(delete(TABLE).where(TABLE.c.pseudonym == name)).rowcount
        return name, bool(removed)


def reveal(connection: Connection, names: list[str]) -> dict[str, str]:
    rows = connection.execute(select(TABLE.c.pseudonym, TABLE.c.value).where(TABLE.c.pseudonym.in_(names)))
    return {row.pseudonym: row.value for row in rows}


def erase_case_variants(connection: Connection, kinds: tuple[str, ...], value: str) -> int:
    """Forget the clear values of ``kinds`` equal to ``value`` but for case (as a search compares them: Unicode
    case folding), e.g. every search for a person's address however it was typed; how many were forgotten. The
    pseudonyms stay in the log, unlinkable without their rows (GDPR art. 17)."""
    folded = value.casefold()
    rows = connection.execute(select(TABLE.c.pseudonym, TABLE.c.value).where(
        TABLE.c.kind.in_(kinds), func.lower(TABLE.c.value) == value.lower())).all()
    names = [r.pseudonym for r in rows if r.value.casefold() == folded]
    if names:
        connection.execute(delete(TABLE).where(TABLE.c.pseudonym.in_(names)))
    return len(names)
