"""Which copies this host can read: its own local file store and the shared S3 stores, never another host's files.

Hosts that share one PostgreSQL each record the copies in their local file store under their own name
(``VAULT_LOCAL_STORE_NAME``). A copy recorded under a store name this host does not have is another host's local
copy: it counts towards the copy quorum, but it is not audited, repaired nor read here, and a blob held there is not
expected in this host's local store (its absence here is no missing copy). A copy to a shared store that only
another host can make (no store here has the blob, another host's local store does) is that host's to make: the copy
pass counts it apart, as waiting for that host, not as failed, and so does the audit (a copy never made is not a
missing one; a copy recorded and then gone is). With one host, or with the default name
on every host of a database that never had another, nothing is elsewhere and every blob is expected locally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Collection, Iterable

from sqlalchemy import Connection, and_, select

from vault.db.tables import BlobCopy

COPIES = BlobCopy.__table__


def held_elsewhere(recorded: Iterable[tuple[str, str]], own: Collection[str]) -> set[str]:
    """The blobs among ``recorded`` (sha256, store) pairs with a copy on a store not in ``own`` (pure)."""
    return {sha256 for sha256, store in recorded if store not in own}


def expected_locally(sha256: str, local: str, recorded: Collection[tuple[str, str]], elsewhere: set[str]) -> bool:
    """Whether this host's local store ``local`` should hold blob ``sha256``: its copy there is recorded, or no other
    host's local store holds the blob (a copy the copy pass owes this host)."""
    return (sha256, local) in recorded or sha256 not in elsewhere


def owed_by_other_host(sha256: str, store: str, recorded: Collection[tuple[str, str]], elsewhere: set[str]) -> bool:
    """Whether the copy of blob ``sha256`` on ``store``, found absent by a host with no good copy of it, is another
    host's to make: it was never recorded and another host's local store holds the blob (pure)."""
    return (sha256, store) not in recorded and sha256 in elsewhere


def other_hosts_of(sha256: str, recorded: Iterable[tuple[str, str]], own: Collection[str]) -> list[str]:
    """The stores not in ``own`` among the ``recorded`` (sha256, store) pairs of blob ``sha256`` (pure)."""
    return sorted({store for blob, store in recorded if blob == sha256 and store not in own})


def recorded_elsewhere(sha256_column, own: Collection[str]):
    """SQL: a copy of the blob ``sha256_column`` names is recorded on a store not in ``own``."""
    return select(COPIES.c.sha256).where(and_(COPIES.c.sha256 == sha256_column, COPIES.c.store.not_in(list(own)))).exists()


def other_hosts_holding(connection: Connection, sha256: str, own: Collection[str]) -> list[str]:
    """The stores not in ``own`` (other hosts' local stores) recorded as holding blob ``sha256``."""
    query = select(COPIES.c.store).where(COPIES.c.sha256 == sha256, COPIES.c.store.not_in(list(own)))
    return sorted(connection.execute(query.order_by(COPIES.c.store)).scalars())


@dataclass
class CopyReport:
    """What a copy pass did: ``made``, ``failed``, and ``held_elsewhere`` (waiting for the host that holds it)."""

    made: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    held_elsewhere: list[str] = field(default_factory=list)

    def not_made(self, sha256: str, store: str, exc: Exception, holders: Callable[[], list[str]]) -> None:
        """File a copy not made: when no store here had a readable source (``LookupError``) and ``holders()`` names
        other hosts' stores holding the blob, it waits for them; anything else failed."""
        waiting = holders() if isinstance(exc, LookupError) else []
        if waiting:
            self.held_elsewhere.append(f"{sha256[:16]}… → {store}: waiting for host {', '.join(waiting)}")
        else:
            self.failed.append(f"{sha256[:16]}… → {store}: {exc}")
