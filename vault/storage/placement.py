"""Which copies this host can read: its own local file store and the shared S3 stores, never another host's files.

Hosts that share one PostgreSQL each record the copies in their local file store under their own name
(``VAULT_LOCAL_STORE_NAME``). A copy recorded under a store name this host does not have is another host's local
copy: it counts towards the copy quorum, but it is not audited, repaired nor read here, and a blob held there is not
expected in this host's local store (its absence here is no missing copy). With one host, or with the default name
on every host of a database that never had another, nothing is elsewhere and every blob is expected locally.
"""

from __future__ import annotations

from typing import Collection, Iterable

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


def elsewhere_only(connection: Connection, sha256: str, local: str, own: Collection[str]) -> bool:
    """True when blob ``sha256`` has no copy recorded on ``local`` but one on a store not in ``own``."""
    stores = set(connection.execute(select(COPIES.c.store).where(COPIES.c.sha256 == sha256)).scalars())
    return local not in stores and bool(stores - set(own))


def recorded_elsewhere(sha256_column, own: Collection[str]):
    """SQL: a copy of the blob ``sha256_column`` names is recorded on a store not in ``own``."""
    return select(COPIES.c.sha256).where(and_(COPIES.c.sha256 == sha256_column, COPIES.c.store.not_in(list(own)))).exists()
