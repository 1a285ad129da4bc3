"""Consent events and the question "what was this person's consent for this purpose at date D, and which proof
shows it" (GDPR art. 7(1): the controller must be able to demonstrate consent).

Each consent record deposited with ``event_type`` ``consent`` (opt-in) or ``withdrawal`` (opt-out), a ``subject``
and a ``purpose`` adds one row in the same transaction as the object. The subject is stored only as a keyed
pseudonym (HMAC-SHA-256 with the archive's pseudonym key, the one the journal uses), so the table names no one;
asking about a person means computing the same pseudonym from the identifier the caller gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import Engine, insert, select

from vault.clock import iso_z
from vault.db.tables import ArchivedObject, ConsentEvent
from vault.evidence.status import seal_state

TABLE = ConsentEvent.__table__
OBJECTS = ArchivedObject.__table__
INSERT = insert(TABLE)
CONSENT_EVENTS = {"consent": "granted", "withdrawal": "withdrawn"}
MAX_HISTORY = 1000


def normalise_subject(subject: str) -> str:
    """Identifiers compare case-insensitively and without surrounding blanks (e-mail addresses in practice)."""
    return subject.strip().casefold()


def consent_row(object_row: dict[str, Any], subject_pseudonym: str, purpose: str) -> dict[str, Any]:
    return {"object_id": object_row["id"], "tenant": object_row["tenant"], "subject": subject_pseudonym,
            "purpose": purpose, "event_type": object_row["event_type"], "event_time": object_row["timeline_at"]}


@dataclass(frozen=True)
class ConsentState:
    subject: str  # the pseudonym
    purpose: str
    at: datetime
    state: str  # granted, withdrawn, unknown
    proof: dict[str, Any] | None
    history: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "purpose": self.purpose, "at": iso_z(self.at), "state": self.state,
                "proof": self.proof, "history": self.history}


class ConsentRegistry:
    def __init__(self, engine: Engine, pseudonym: Callable[[str, str], str]):
        self.engine = engine
        self._pseudonym = pseudonym

    def subject_pseudonym(self, subject: str) -> str:
        return self._pseudonym("subject", normalise_subject(subject))

    def key_check(self) -> str:
        """The pseudonym of a fixed value: equal in two archives exactly when they pseudonymise subjects with the
        same key (then a consent event exported by one is valid in the other; ``vault import``)."""
        return self._pseudonym("key-check", "vault consent subjects")

    def export_view(self, object_id: str) -> dict[str, Any] | None:
        """What an export package says of an object's consent event: the subject's pseudonym (never the subject),
        the purpose and the key check; None when the object proves no consent event."""
        return self.export_views([object_id]).get(object_id)

    def export_views(self, object_ids: list[str]) -> dict[str, dict[str, Any]]:
        """:meth:`export_view` of those of ``object_ids`` that prove a consent event, in one query."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(TABLE.c.object_id, TABLE.c.subject, TABLE.c.purpose)
                                      .where(TABLE.c.object_id.in_(object_ids))).all()
        check = self.key_check() if rows else None
        return {row.object_id: {"subject_pseudonym": row.subject, "purpose": row.purpose, "key_check": check}
                for row in rows}

    def purposes(self, tenant: str | None, subject: str) -> list[str]:
        query = select(TABLE.c.purpose).where(TABLE.c.subject == self.subject_pseudonym(subject)).distinct()
        if tenant is not None:
            query = query.where(TABLE.c.tenant == tenant)
        with self.engine.connect() as connection:
            return sorted(connection.execute(query).scalars())

    def state(self, tenant: str | None, subject: str, purpose: str, at: datetime) -> ConsentState:
        """The latest opt-in or opt-out at or before ``at`` decides; ``history`` lists every event up to ``at``.

        Two events at the same instant are ordered by deposit (object id), the later deposit winning.
        """
        return self.state_of(tenant, self.subject_pseudonym(subject), purpose, at)

    def state_of(self, tenant: str | None, name: str, purpose: str, at: datetime) -> ConsentState:
        """:meth:`state` of the subject whose pseudonym is ``name``."""
        query = (select(TABLE.c.object_id, TABLE.c.event_type, TABLE.c.event_time, TABLE.c.tenant,
                        OBJECTS.c.sha256, OBJECTS.c.deposited_at, OBJECTS.c.validation_verdict)
                 .join(OBJECTS, OBJECTS.c.id == TABLE.c.object_id)
                 .where(TABLE.c.subject == name, TABLE.c.purpose == purpose, TABLE.c.event_time <= at)
                 .order_by(TABLE.c.event_time.desc(), TABLE.c.object_id.desc()).limit(MAX_HISTORY))
        if tenant is not None:
            query = query.where(TABLE.c.tenant == tenant)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        history = [{"object_id": r["object_id"], "event_type": r["event_type"], "event_time": iso_z(r["event_time"]),
                    "state": CONSENT_EVENTS[r["event_type"]], "sha256": r["sha256"],
                    "deposited_at": iso_z(r["deposited_at"]), "signature_verdict": r["validation_verdict"]}
                   for r in rows]
        latest = history[0] if history else None
        return ConsentState(name, purpose, at, latest["state"] if latest else "unknown", latest,
                            list(reversed(history)))

    def proof(self, tenant: str, object_id: str) -> dict[str, Any] | None:
        """The consent event object ``object_id`` of ``tenant`` proves, citing it (digests, deposit and seal time,
        the subject's pseudonym, purpose); None when it is no consent or withdrawal record of that tenant."""
        query = (select(TABLE.c.object_id, TABLE.c.event_type, TABLE.c.event_time, TABLE.c.subject, TABLE.c.purpose,
                        OBJECTS.c.sha256, OBJECTS.c.sha512, OBJECTS.c.deposited_at, OBJECTS.c.seal_seq)
                 .join(OBJECTS, OBJECTS.c.id == TABLE.c.object_id)
                 .where(TABLE.c.object_id == object_id, TABLE.c.tenant == tenant))
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
            seal = seal_state(connection, row["seal_seq"]) if row is not None else None
        if row is None:
            return None
        return {"object_id": row["object_id"], "event_type": row["event_type"],
                "state": CONSENT_EVENTS[row["event_type"]], "event_time": iso_z(row["event_time"]),
                "subject_pseudonym": row["subject"], "purpose": row["purpose"],
                "sha256": row["sha256"], "sha512": row["sha512"], "deposited_at": iso_z(row["deposited_at"]),
                "sealed_at": seal.get("sealed_at"), "seal": seal}
