"""TSA history: every trust root that validated a token obtained here, with the period it was used.

A token is verified (RFC 3161 §2.4.2, RFC 5280 path validation) against the roots configured *now*; an evidence
record sealed years ago by another TSA needs that TSA's root. So each root that validates a token is remembered
(first and last genTime), and ``/v1/tsa/roots`` and every package publish the configured roots *and* these:
changing TSA never invalidates the verification of earlier records.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Connection, Engine, select, update

from vault.clock import iso_z
from vault.db.tables import TsaRootUsed

USED = TsaRootUsed.__table__
log = logging.getLogger(__name__)


def fingerprint(root: x509.Certificate) -> str:
    return hashlib.sha256(root.public_bytes(Encoding.DER)).hexdigest()


@dataclass(frozen=True)
class PublishedRoot:
    certificate: x509.Certificate
    comment: str  # one line: who used it and when, or "configured, no token yet"

    def pem(self) -> bytes:
        return f"# {self.certificate.subject.rfc4514_string()}\n# {self.comment}\n".encode() + \
            self.certificate.public_bytes(Encoding.PEM)


def record_use(connection: Connection, root: x509.Certificate, tsa_url: str, gen_time: datetime) -> None:
    """Remember that ``root`` validated a token of genTime ``gen_time`` from ``tsa_url`` (widening its period)."""
    key = fingerprint(root)
    row = connection.execute(select(USED.c.first_used, USED.c.last_used).where(USED.c.fingerprint == key)).first()
    if row is None:
        connection.execute(USED.insert(), {"fingerprint": key, "pem": root.public_bytes(Encoding.PEM).decode(),
                                           "subject": root.subject.rfc4514_string()[:512], "tsa_url": tsa_url[:512],
                                           "first_used": gen_time, "last_used": gen_time})
    elif gen_time > row.last_used or gen_time < row.first_used:
        connection.execute(update(USED).where(USED.c.fingerprint == key).values(
            first_used=min(row.first_used, gen_time), last_used=max(row.last_used, gen_time), tsa_url=tsa_url[:512]))


class TsaHistory:
    """Records each use through the database writer, and lists the roots to publish."""

    def __init__(self, reader: Engine, submit):
        self.reader = reader
        self._submit = submit

    def note(self, root: x509.Certificate, tsa_url: str, gen_time: datetime) -> None:
        """Queue the record of a use: the writer runs it before any unit submitted later (e.g. the seal itself)."""
        future = self._submit(lambda connection: record_use(connection, root, tsa_url, gen_time))
        future.add_done_callback(lambda done: done.exception() and log.warning(
            "TSA root use not recorded: %s", done.exception()))

    def published(self, configured: Sequence[x509.Certificate]) -> list[PublishedRoot]:
        """Every root ever used (oldest first use first), then the configured roots not used yet."""
        with self.reader.connect() as connection:
            rows = connection.execute(select(USED).order_by(USED.c.first_used)).all()
        out, seen = [], set()
        for row in rows:
            seen.add(row.fingerprint)
            out.append(PublishedRoot(x509.load_pem_x509_certificate(row.pem.encode()),
                                     f"used by {row.tsa_url} from {iso_z(row.first_used)} to {iso_z(row.last_used)}"))
        for root in configured:
            if fingerprint(root) not in seen:
                seen.add(fingerprint(root))
                out.append(PublishedRoot(root, "configured, no token from it yet"))
        return out
