"""Signed checkpoints of the journal (C2SP tlog-checkpoint in a C2SP signed note, Ed25519).

The signing key lives in ``$VAULT_DATA_DIR/journal.key`` (PKCS#8 PEM, mode 0600), made on first start. A
checkpoint is written by the database writer itself, so the size and root it signs are those of committed
entries and nothing can slip between reading the size and hashing the tree.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, load_pem_private_key
from sqlalchemy import Connection, Engine, insert, select

from vault.db.tables import JournalCheckpoint
from vault.journal.log import journal_root, journal_size
from vault.storage.headroom import is_out_of_space
from vault_verify.note import Checkpoint, Signer, cosign_note, sign_note

CHECKPOINTS = JournalCheckpoint.__table__
_INSERT = insert(CHECKPOINTS)
log = logging.getLogger(__name__)


def load_or_create_signer(data_dir: Path, origin: str) -> Signer:
    path = Path(data_dir) / "journal.key"
    if path.exists():
        key = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return Signer(origin, key)
    signer = Signer.generate(origin)
    pem = signer.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return signer


def latest_checkpoint(engine_or_connection) -> dict | None:
    query = select(CHECKPOINTS).order_by(CHECKPOINTS.c.size.desc()).limit(1)
    if isinstance(engine_or_connection, Engine):
        with engine_or_connection.connect() as connection:
            row = connection.execute(query).mappings().first()
    else:
        row = engine_or_connection.execute(query).mappings().first()
    return dict(row) if row else None


def sign_checkpoint(connection: Connection, signers: Sequence[Signer], at: datetime) -> int | None:
    """Write a checkpoint of the current size unless one exists, signed by each of ``signers`` (the first names
    its origin; a second co-signs a journal key change, docs/journal.md); returns the size signed, or None."""
    size = journal_size(connection)
    last = latest_checkpoint(connection)
    if size == 0 or (last and last["size"] >= size):
        return None
    root = journal_root(connection, size)
    note = sign_note(Checkpoint(signers[0].name, size, root).text(), signers[0])
    for signer in signers[1:]:
        note = cosign_note(note, signer)
    connection.execute(_INSERT, {"size": size, "root": root, "note": note.decode(), "created_at": at})
    return size


class Checkpointer:
    """Signs a checkpoint whenever the journal grew, every ``interval`` seconds, through the writer."""

    def __init__(self, signer: Signer, submit, clock, interval: float):
        self.signer = signer
        self._submit = submit
        self._clock = clock
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def unit(self, connection: Connection) -> int | None:
        """Write a checkpoint of the current size unless one exists; returns the size signed, or None."""
        return sign_checkpoint(connection, (self.signer,), self._clock.now())

    def checkpoint_now(self, timeout: float = 60) -> int | None:
        return self._submit(self.unit).result(timeout)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vault-checkpointer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.checkpoint_now()
            except Exception as exc:  # logged and retried at the next tick; the journal itself is unaffected
                if is_out_of_space(exc):  # the writer already said so in one line
                    continue
                log.exception("journal checkpoint failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
