"""The archive's identity: the keys every replica must share, read from ``VAULT_KEYS_DIR``, and their fingerprints
recorded in the database.

Replicas on several hosts sign one journal (C2SP tlog-checkpoint, Ed25519), pseudonymize with one HMAC key, sign
destruction certificates and receipts with one archive key and PDFs with one certificate. The first start writes
the keys (0600) where they are missing and records a SHA-256 fingerprint of each (of the public key or certificate;
of the secret for the pseudonym key, which a 256-bit key makes safe); every later start compares, and a replica
whose keys differ refuses to start rather than sign one journal with two keys.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key
from sqlalchemy import Connection, delete, insert, select

from vault.db.tables import ArchiveIdentityKey
from vault.documents.pdf import load_or_create_pdf_identity
from vault.journal.checkpoints import Signer, load_or_create_signer
from vault_verify.note import NoteError, Verifier
from vault.journal.pseudonyms import load_or_create_key
from vault.retention.certificate import load_or_create_archive_key
from vault.storage.private import make_private_dir

IDENTITY = ArchiveIdentityKey.__table__
KEY_FILES = ("journal.key", "journal-pseudonym.key", "archive.key", "archive-signing.key", "archive-signing.pem")
WHAT = {"journal-signing": "journal.key", "journal-pseudonym": "journal-pseudonym.key", "archive": "archive.key",
        "pdf-signing": "archive-signing.pem"}


class IdentityError(RuntimeError):
    """The keys cannot be read or made, or differ from those the database recorded (the message says which)."""


@dataclass(frozen=True)
class ArchiveIdentity:
    signer: Signer
    pseudonym_key: bytes
    archive_key: Ed25519PrivateKey
    pdf_identity: tuple  # (x509.Certificate, its EC private key)

    def fingerprints(self) -> dict[str, str]:
        """name → SHA-256 hex of the journal and archive public keys (raw), of the pseudonym key, of the PDF
        certificate (DER)."""
        def raw(key) -> bytes:
            return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        certificate: x509.Certificate = self.pdf_identity[0]
        return {
            "journal-signing": hashlib.sha256(raw(self.signer.private_key)).hexdigest(),
            "journal-pseudonym": hashlib.sha256(b"vault pseudonym key\x00" + self.pseudonym_key).hexdigest(),
            "archive": hashlib.sha256(raw(self.archive_key)).hexdigest(),
            "pdf-signing": hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest(),
        }


def load_identity(keys_dir: Path, origin: str, issuer: str, now: datetime) -> ArchiveIdentity:
    """The four keys from ``keys_dir``, each made there if missing; :class:`IdentityError` in one sentence when the
    directory or a missing key cannot be created (a read-only secret mounted before the keys were put in it).

    Replicas starting together on a fresh directory make the keys one at a time (an ``flock`` on the directory):
    the others then read them, instead of each writing its own PDF certificate over the other's."""
    try:
        if all((keys_dir / name).exists() for name in KEY_FILES):
            return _load(keys_dir, origin, issuer, now)
        make_private_dir(keys_dir)
        fd = os.open(keys_dir, os.O_RDONLY)  # the directory itself: no lock file among the keys
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return _load(keys_dir, origin, issuer, now)
        finally:
            os.close(fd)
    except OSError as exc:
        raise IdentityError(
            f"VAULT_KEYS_DIR={keys_dir}: the archive's keys are missing and cannot be made there "
            f"({exc.strerror or exc}): copy {', '.join(KEY_FILES)} from the first replica into it, or make it "
            "writable for the first start") from None


def _load(keys_dir: Path, origin: str, issuer: str, now: datetime) -> ArchiveIdentity:
    return ArchiveIdentity(load_or_create_signer(keys_dir, origin), load_or_create_key(keys_dir),
                           load_or_create_archive_key(keys_dir), load_or_create_pdf_identity(keys_dir, issuer, now))


def differences(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """Names of the keys recorded with another fingerprint than ``current``'s, in its order (pure)."""
    return [name for name, fingerprint in current.items() if recorded.get(name, fingerprint) != fingerprint]


def recorded_fingerprints(connection: Connection) -> dict[str, str]:
    return dict(connection.execute(select(IDENTITY.c.name, IDENTITY.c.fingerprint)).all())


def record_or_compare(connection: Connection, current: dict[str, str], now: datetime) -> list[str]:
    """Record the fingerprints not recorded yet; the names of those that differ (run by the single writer, under
    the journal's lock on PostgreSQL, so that two first starts do not both record)."""
    recorded = recorded_fingerprints(connection)
    missing = [{"name": name, "fingerprint": value, "recorded_at": now}
               for name, value in current.items() if name not in recorded]
    if missing:
        connection.execute(insert(IDENTITY), missing)
    return differences(recorded, current)


def mismatch_message(keys_dir: Path, names: list[str]) -> str:
    files = ", ".join(WHAT[name] for name in names)
    return (f"VAULT_KEYS_DIR={keys_dir}: {files} differ from the keys this database recorded at its first start: "
            "this replica would sign the archive with other keys; give it the same VAULT_KEYS_DIR as the others "
            "(or, after a deliberate key change, record the new ones: `vault identity accept --yes`)")


def accept_keys(connection: Connection, current: dict[str, str], now: datetime) -> dict[str, dict[str, str]]:
    """Record ``current`` in place of the fingerprints that differ (a deliberate key change, `vault identity
    accept`); returns name → {"old", "new"} of those replaced, for the journal entry the caller appends in the
    same transaction."""
    recorded = recorded_fingerprints(connection)
    changed = {name: {"old": recorded[name], "new": current[name]} for name in differences(recorded, current)}
    for name in changed:
        connection.execute(delete(IDENTITY).where(IDENTITY.c.name == name))
        connection.execute(insert(IDENTITY), {"name": name, "fingerprint": current[name], "recorded_at": now})
    return changed


def previous_journal_key(data: bytes, origin: str, fingerprint: str) -> tuple[Verifier, Signer | None]:
    """The replaced journal key read from ``data``: its PEM private key (which can co-sign the handover
    checkpoint) or its verifier key (``name+hash+key``), with the signer when there is one; IdentityError unless
    its public key has the ``fingerprint`` the database recorded (docs/journal.md, Key changes)."""
    signer = None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = load_pem_private_key(data, password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise IdentityError("the previous journal key is not an Ed25519 private key")
            signer = Signer(origin, key)
            verifier = signer.verifier
        else:
            verifier = Verifier.parse(data.decode("utf-8"))
    except (ValueError, NoteError) as exc:
        raise IdentityError(f"the previous journal key is neither a PEM private key nor a verifier key ({exc})") \
            from None
    raw = verifier.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if hashlib.sha256(raw).hexdigest() != fingerprint:
        raise IdentityError(f"the previous journal key {verifier.vkey()} is not the one this database recorded")
    return verifier, signer
