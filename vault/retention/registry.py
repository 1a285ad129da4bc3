"""The registry of policy versions: a version in use is immutable, older versions stay known, loads are journaled.

At every start the policy files are compared with the versions recorded in ``retention_policies``: a new version is
recorded; a file whose text changed for a version no object uses yet replaces it; a file whose text changed for a
version objects already use stops the service (name the file, say which version to give the change). Versions that
are no longer in the files stay in force for the objects deposited under them.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, func, insert, select, update

from vault.db.tables import ArchivedObject, RetentionPolicyVersion
from vault.journal.entries import AccessEvent, Action, append_entry
from vault.retention.policy import PolicyBook, PolicyError, parse_policy

REGISTRY = RetentionPolicyVersion.__table__
OBJECTS = ArchivedObject.__table__
SYSTEM_ACTOR = "system"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def register_policies(connection: Connection, book: PolicyBook, now) -> list[str]:
    """Check the policy files against the registry within the caller's transaction; returns what changed.

    Raises :class:`PolicyError` naming the file when a version in use was edited in place."""
    recorded = {(r.id, r.version): r for r in connection.execute(select(REGISTRY))}
    changes = []
    for policy in book.versions():
        digest = _digest(policy.text)
        row = recorded.get((policy.id, policy.version))
        if row is None:
            connection.execute(insert(REGISTRY), {"id": policy.id, "version": policy.version, "text": policy.text,
                                                  "sha256": digest, "loaded_at": now})
            changes.append(f"{policy.key} added")
        elif row.sha256 != digest:
            used = connection.execute(select(func.count()).where(
                OBJECTS.c.policy_id == policy.id, OBJECTS.c.policy_version == policy.version)).scalar_one()
            if used:
                raise PolicyError(
                    f"{policy.source}: policy '{policy.id}' version {policy.version} is used by {used} object(s) "
                    f"and cannot change; restore the file and put the change in version "
                    f"{max(v for (i, v) in recorded if i == policy.id) + 1}")
            connection.execute(update(REGISTRY).where(REGISTRY.c.id == policy.id,
                                                      REGISTRY.c.version == policy.version)
                               .values(text=policy.text, sha256=digest, loaded_at=now))
            changes.append(f"{policy.key} changed (not yet used)")
    for (policy_id, version), row in recorded.items():
        if book.version(policy_id, version) is None:
            book.add_version(parse_policy(row.text, f"retention_policies[{policy_id}@{version}]"))
    loaded = [f"{p.key}:{_digest(p.text)[:16]}" for p in book]
    append_entry(connection, AccessEvent(actor=SYSTEM_ACTOR, action=Action.POLICY_LOAD,
                                         detail={"in_force": loaded, "changes": changes}), now)
    return changes


def recorded_policies(connection: Connection) -> PolicyBook:
    """Every policy version the registry recorded (read only: what an offline check of the rows needs)."""
    book = PolicyBook([])
    for row in connection.execute(select(REGISTRY).order_by(REGISTRY.c.id, REGISTRY.c.version)):
        book.add_version(parse_policy(row.text, f"retention_policies[{row.id}@{row.version}]"))
    return book
