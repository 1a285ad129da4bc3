"""Seal batches and their renewals (RFC 4998 §4 and §5.2): one hash tree and one TSA call per batch.

* :meth:`Sealer.seal_pending` builds one tree over the next unsealed deposits (in seal order, up to
  ``batch_max``) and timestamps its root;
* :meth:`Sealer.renew_timestamps` renews every open chain whose newest token is due (its TSA certificate
  expires within the margin, or the re-seal interval has passed), with one tree over the chains;
* :meth:`Sealer.renew_hash_trees` freezes the chains of a weakening algorithm and starts a new chain for every
  affected object: h' = H(H(d) ‖ H(ArchiveTimeStampSequence)), the data re-read and re-hashed.

A TSA outage leaves deposits "seal pending"; :class:`vault.evidence.scheduler.SealScheduler` retries with backoff.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from sqlalchemy import Connection, Engine, and_, func, insert, literal, select, update

from vault.db.tables import ArchivedObject
from vault.db.types import UTCDateTime
from vault.db.writer import BatchWriter
from vault.evidence.assemble import BatchCache, assemble, data_group_members, group_leaf, renewal_leaf
from vault.evidence.metadata_store import first_record_of, first_records_by_seal_seq, queue_record_seal
from vault.evidence.batches import (
    BATCHES, CHAIN_STARTS, HASH_TREE_RENEWAL, INITIAL, LINKS, MEMBERS, TIMESTAMP_RENEWAL, StoredBatch, insert_batch,
)
from vault.evidence.imported import CHAINS as IMPORTED_CHAINS, CLOSURES as IMPORTED_CLOSURES
from vault.evidence.imported import IMPORTED, MEMBERS as IMPORTED_MEMBERS, RENEWALS as IMPORTED_RENEWALS
from vault.evidence.imported import continued_record, newest_algorithm, renewed_leaf, stored_tokens
from vault.evidence.record import encode_sequence
from vault.evidence.record_seals import record_backlog, renew_record_hash_trees, seal_records
from vault.ids import uuid7
from vault.jobs.follower import dialect_insert
from vault.journal.entries import AccessEvent, Action, append_entry
from vault.timestamping.client import TsaClient, TsaEndpoint
from vault_verify.asn1 import HASHES, digest_function
from vault_verify.hashtree import build_levels
from vault_verify.tokens import TimestampToken

log = logging.getLogger(__name__)
OBJECTS = ArchivedObject.__table__
SYSTEM_ACTOR = "system"
KEPT_DIGESTS = ("sha256", "sha512")  # the content digests every object row keeps


@dataclass(frozen=True)
class SealPolicy:
    """The crypto policy sealing follows (settings ``VAULT_SEAL_*``, ``VAULT_RESEAL_*``, ``VAULT_WEAK_HASHES``)."""

    algorithm: str = "sha256"
    batch_max: int = 100_000
    renewal_margin: timedelta = timedelta(days=180)
    reseal_interval: timedelta = timedelta(days=730)
    weak: frozenset[str] = frozenset()

    def renewal_due(self, gen_time: datetime, tsa_not_after: datetime) -> datetime:
        """When a chain whose newest token has this genTime and TSA certificate expiry is due for a timestamp
        renewal (§5.2): the renewal margin before that certificate expires, or the re-seal interval after genTime."""
        return min(tsa_not_after - self.renewal_margin, gen_time + self.reseal_interval)

    def sealing_algorithm(self) -> str:
        if self.algorithm not in self.weak:
            return self.algorithm
        for candidate in ("sha512", "sha3_512", "sha384", "sha3_384", "sha256", "sha3_256"):
            if candidate not in self.weak:
                return candidate
        raise ValueError("every supported hash algorithm is marked weak")


@dataclass
class RenewalReport:
    batches: list[str] = field(default_factory=list)
    renewed: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"batches": self.batches, "renewed": self.renewed, "failures": self.failures}


class Sealer:
    def __init__(self, reader: Engine, writer: BatchWriter, tsa: TsaClient, clock, policy: SealPolicy,
                 read_blob: Callable[[str], Iterator[bytes]]):
        self.reader = reader
        self.writer = writer
        self.tsa = tsa
        self.clock = clock
        self.policy = policy
        self.read_blob = read_blob

    # -- initial sealing -------------------------------------------------------------------------------------

    def seal_pending(self) -> str | None:
        """Seal the next run of unsealed deposits as one batch; returns its id, or None when nothing waits."""
        algorithm = self.policy.sealing_algorithm()
        with self.reader.connect() as connection:
            start = connection.execute(
                select(func.coalesce(func.max(BATCHES.c.last_seq), -1) + 1).where(BATCHES.c.kind == INITIAL)
            ).scalar_one()
            rows = connection.execute(
                select(OBJECTS.c.seal_seq, OBJECTS.c.id, OBJECTS.c.sha256, OBJECTS.c.sha512)
                .where(OBJECTS.c.seal_seq >= start).order_by(OBJECTS.c.seal_seq).limit(self.policy.batch_max)
            ).all()
        if not rows:
            return None
        count = next((i for i, r in enumerate(rows) if r.seal_seq != start + i), len(rows))
        rows = rows[:count]
        with self.reader.connect() as connection:
            records = first_records_by_seal_seq(connection, start, start + count - 1)
        apart = []  # the evidence record could not list the content's hash: content only, the record sealed apart
        if algorithm not in KEPT_DIGESTS:
            apart, records = [(r.id, 1) for r in rows if r.seal_seq in records], {}
        leaves = [self._leaf(algorithm, self._data_hash(algorithm, r.sha256, r.sha512), records.get(r.seal_seq))
                  for r in rows]
        levels = build_levels(digest_function(algorithm), leaves)
        token, endpoint = self.tsa.timestamp(levels[-1][0], algorithm)
        batch = self._batch_row(INITIAL, algorithm, levels, token, endpoint, first_seq=start, last_seq=start + count - 1)

        def unit(connection: Connection) -> str:
            insert_batch(connection, batch, levels)
            queue_record_seal(connection, apart, batch["created_at"])
            self._journal(connection, Action.SEAL, batch)
            return batch["id"]

        return self.writer.run(unit, timeout=600)

    @staticmethod
    def _leaf(algorithm: str, content_hash: bytes, record: bytes | None,
              previous_sequence: bytes | None = None) -> bytes:
        """A deposit's leaf: the data group (content, metadata record) of RFC 4998 §4.2 when it has a record,
        else (an object archived before records) its content's hash, rehashed with the sequence hash in a
        hash-tree renewal (§5.2)."""
        if record is not None:
            return group_leaf(algorithm, data_group_members(algorithm, content_hash, record, previous_sequence))
        if previous_sequence is None:
            return content_hash
        h = HASHES[algorithm]
        return h(content_hash + h(previous_sequence).digest()).digest()

    def _data_hash(self, algorithm: str, sha256: str, sha512: str) -> bytes:
        if algorithm == "sha256":
            return bytes.fromhex(sha256)
        if algorithm == "sha512":
            return bytes.fromhex(sha512)
        return self._rehash(sha256, algorithm)

    def _rehash(self, sha256: str, algorithm: str) -> bytes:
        """Re-read the stored bytes, check them against their SHA-256, and hash them with ``algorithm``."""
        check, target = hashlib.sha256(), HASHES[algorithm]()
        for chunk in self.read_blob(sha256):
            check.update(chunk)
            target.update(chunk)
        if check.hexdigest() != sha256:
            raise ValueError(f"stored content {sha256[:16]}… does not match its digest; repair it before renewal")
        return target.digest()

    # -- timestamp renewal (§5.2) ------------------------------------------------------------------------------

    def due_chains(self, force: bool = False) -> list[tuple[StoredBatch, list[str], StoredBatch]]:
        """Open chains whose newest token needs renewal: (chain start, renewal ids, newest batch)."""
        now = self.clock.now()
        with self.reader.connect() as connection:
            starts = connection.execute(
                select(BATCHES).where(BATCHES.c.kind.in_(CHAIN_STARTS),
                                      BATCHES.c.closed_at.is_(None)).order_by(BATCHES.c.id)
            ).all()
            links = connection.execute(select(LINKS.c.chain_id, LINKS.c.renewal_id).order_by(LINKS.c.renewal_id)).all()
            renewals = {r.id: r for r in connection.execute(
                select(BATCHES).where(BATCHES.c.kind == TIMESTAMP_RENEWAL)).all()}
        by_chain: dict[str, list[str]] = {}
        for link in links:
            by_chain.setdefault(link.chain_id, []).append(link.renewal_id)
        due = []
        for row in starts:
            start = StoredBatch.from_row(row)
            if start.algorithm in self.policy.weak:
                continue  # a weak chain is renewed by a hash-tree renewal, not by another token over it
            chain = by_chain.get(start.id, [])
            newest = StoredBatch.from_row(renewals[chain[-1]]) if chain else start
            if force or self._is_due(newest, now):
                due.append((start, chain, newest))
        return due

    def _is_due(self, newest: StoredBatch, now: datetime) -> bool:
        return self.policy.renewal_due(newest.gen_time, newest.tsa_not_after) <= now

    def due_imported_chains(self, force: bool = False) -> list[tuple[Any, list[str]]]:
        """The last chains of imported evidence records whose newest token needs renewal (vault.evidence.imported):
        (``imported_chains`` row, ids of this archive's renewals of it so far)."""
        now = self.clock.now()
        with self.reader.connect() as connection:
            closed = select(IMPORTED_CLOSURES.c.key)
            chains = connection.execute(select(IMPORTED_CHAINS).where(IMPORTED_CHAINS.c.key.not_in(closed))
                                        .order_by(IMPORTED_CHAINS.c.key)).all()
            if not chains:
                return []
            links = connection.execute(select(IMPORTED_RENEWALS.c.chain_key, IMPORTED_RENEWALS.c.renewal_id)
                                       .order_by(IMPORTED_RENEWALS.c.renewal_id)).all()
            renewals = {r.id: StoredBatch.from_row(r) for r in connection.execute(
                select(BATCHES).where(BATCHES.c.id.in_({link.renewal_id for link in links}))).all()} if links else {}
        by_chain: dict[str, list[str]] = {}
        for link in links:
            by_chain.setdefault(link.chain_key, []).append(link.renewal_id)
        due = []
        for row in chains:
            if row.algorithm in self.policy.weak:
                continue  # no token over a weak chain; the object's own record here is renewed instead
            chain = by_chain.get(row.key, [])
            newest = renewals[chain[-1]] if chain else None
            not_after, gen_time = (newest.tsa_not_after, newest.gen_time) if newest else (row.not_after, row.gen_time)
            if force or self.policy.renewal_due(gen_time, not_after) <= now:
                due.append((row, chain))
        return due

    def renew_timestamps(self, force: bool = False) -> RenewalReport:
        """Renew every due chain (all open chains when ``force``), this archive's and the imported records' last
        ones, one renewal batch per algorithm."""
        report = RenewalReport()
        by_algorithm: dict[str, list] = {}
        for item in self.due_chains(force):
            by_algorithm.setdefault(item[0].algorithm, []).append(item)
        for row, renewal_ids in self.due_imported_chains(force):
            by_algorithm.setdefault(row.algorithm, []).append((row, renewal_ids, None))
        for algorithm, chains in by_algorithm.items():
            for part in range(0, len(chains), self.policy.batch_max):
                selected = chains[part:part + self.policy.batch_max]
                batch_id = self._renew_chains(algorithm, selected)
                report.batches.append(batch_id)
                report.renewed += len(selected)
        return report

    def _renew_chains(self, algorithm: str, chains) -> str:
        """One renewal batch over ``chains``: (start batch, renewal ids, newest) of this archive's chains, and
        (``imported_chains`` row, renewal ids, None) of imported ones."""
        with self.reader.connect() as connection:
            cache = BatchCache()
            leaves = []
            for start, renewal_ids, newest in chains:
                first = [start.token] if newest is not None else stored_tokens(start)
                tokens = [*first, *(cache.get(connection, r).token for r in renewal_ids)]
                leaves.append(renewal_leaf(algorithm, tokens))
        levels = build_levels(digest_function(algorithm), leaves)
        token, endpoint = self.tsa.timestamp(levels[-1][0], algorithm)
        batch = self._batch_row(TIMESTAMP_RENEWAL, algorithm, levels, token, endpoint)
        links = [{"renewal_id": batch["id"], "leaf_index": i, "chain_id": start.id}
                 for i, (start, _r, newest) in enumerate(chains) if newest is not None]
        imported = [{"renewal_id": batch["id"], "leaf_index": i, "chain_key": start.key}
                    for i, (start, _r, newest) in enumerate(chains) if newest is None]

        def unit(connection: Connection) -> str:
            insert_batch(connection, batch, levels)
            if links:
                connection.execute(insert(LINKS), links)
            if imported:
                connection.execute(insert(IMPORTED_RENEWALS), imported)
            self._journal(connection, Action.RESEAL, batch, chains=len(links),
                          **({"imported_chains": len(imported)} if imported else {}))
            return batch["id"]

        return self.writer.run(unit, timeout=600)

    # -- hash-tree renewal (§5.2) ------------------------------------------------------------------------------

    def renew_hash_trees(self, algorithm: str) -> RenewalReport:
        """Start a new ``algorithm`` chain for every sealed object whose newest chain uses another algorithm."""
        if algorithm in self.policy.weak:
            raise ValueError(f"{algorithm} is itself marked weak; choose a stronger algorithm")
        report = RenewalReport()
        now = self.clock.now()
        self.writer.run(lambda c: c.execute(
            update(BATCHES).where(BATCHES.c.kind.in_(CHAIN_STARTS), BATCHES.c.closed_at.is_(None),
                                  BATCHES.c.algorithm != algorithm).values(closed_at=now)).rowcount)
        pending: list[tuple] = []
        for seal_seq in self.objects_not_on(algorithm):
            renewed = self._renewed_leaf(seal_seq, algorithm, report)
            if renewed is not None:
                pending.append((seal_seq, *renewed))
            if len(pending) >= self.policy.batch_max:
                report.batches.append(self._write_hash_tree_renewal(algorithm, pending))
                report.renewed += len(pending)
                pending = []
        if pending:
            report.batches.append(self._write_hash_tree_renewal(algorithm, pending))
            report.renewed += len(pending)
        self._renew_imported_hash_trees(algorithm, report)
        renew_record_hash_trees(self, algorithm, report)
        return report

    def _renew_imported_hash_trees(self, algorithm: str, report: RenewalReport) -> None:
        """A new ``algorithm`` chain for every imported record whose newest chain uses another algorithm (its data
        re-read here), in batches of their own; then the imported chains on other algorithms are closed."""
        pending: list[tuple[str, bytes]] = []
        for object_id, sha256, der in self._imported_records():
            with self.reader.connect() as connection:
                continued, _count = continued_record(connection, der, object_id)
            if newest_algorithm(continued) in (None, algorithm):
                continue
            try:
                pending.append((object_id, renewed_leaf(continued, self._rehash(sha256, algorithm), algorithm)))
            except (ValueError, LookupError, OSError) as exc:
                report.failures.append(f"imported object {object_id}: {exc}")
            if len(pending) >= self.policy.batch_max:
                report.batches.append(self._write_hash_tree_renewal(algorithm, pending, imported=True))
                report.renewed, pending = report.renewed + len(pending), []
        if pending:
            report.batches.append(self._write_hash_tree_renewal(algorithm, pending, imported=True))
            report.renewed += len(pending)
        now = self.clock.now()
        self.writer.run(lambda c: c.execute(
            dialect_insert(c, IMPORTED_CLOSURES).from_select(
                ["key", "closed_at"], select(IMPORTED_CHAINS.c.key, literal(now, UTCDateTime()))
                .where(IMPORTED_CHAINS.c.algorithm != algorithm,
                       IMPORTED_CHAINS.c.key.not_in(select(IMPORTED_CLOSURES.c.key))))).rowcount)

    def _imported_records(self) -> Iterator[tuple[str, str, bytes]]:
        """(object id, its SHA-256, the imported record) of every imported object with a record, in id order."""
        after = ""
        while True:
            with self.reader.connect() as connection:
                rows = connection.execute(
                    select(IMPORTED.c.object_id, OBJECTS.c.sha256, IMPORTED.c.der)
                    .join(OBJECTS, OBJECTS.c.id == IMPORTED.c.object_id)
                    .where(IMPORTED.c.der.is_not(None), IMPORTED.c.object_id > after)
                    .order_by(IMPORTED.c.object_id).limit(1000)).all()
            if not rows:
                return
            for row in rows:
                yield row.object_id, row.sha256, bytes(row.der)
            after = rows[-1].object_id

    def _latest_algorithm_query(self):
        """(seal_seq, algorithm of the object's newest chain) for every sealed deposit."""
        initial = BATCHES.alias("initial")
        renewal = BATCHES.alias("renewal")
        latest = (select(MEMBERS.c.seal_seq, func.max(MEMBERS.c.batch_id).label("batch_id"))
                  .group_by(MEMBERS.c.seal_seq).subquery("latest"))
        return (
            select(OBJECTS.c.seal_seq, func.coalesce(renewal.c.algorithm, initial.c.algorithm).label("algorithm"))
            .join(initial, and_(initial.c.kind == INITIAL, OBJECTS.c.seal_seq >= initial.c.first_seq,
                                OBJECTS.c.seal_seq <= initial.c.last_seq))
            .outerjoin(latest, latest.c.seal_seq == OBJECTS.c.seal_seq)
            .outerjoin(renewal, renewal.c.id == latest.c.batch_id)
        )

    def objects_not_on(self, algorithm: str) -> Iterator[int]:
        """Sealed deposits whose newest chain uses another algorithm, in seal order (resumable after a crash)."""
        query = self._latest_algorithm_query().subquery("newest")
        after = -1
        while True:
            with self.reader.connect() as connection:
                rows = connection.execute(
                    select(query.c.seal_seq).where(query.c.algorithm != algorithm, query.c.seal_seq > after)
                    .order_by(query.c.seal_seq).limit(10_000)).scalars().all()
            if not rows:
                return
            yield from rows
            after = rows[-1]

    def objects_by_newest_algorithm(self) -> dict[str, int]:
        """How many sealed deposits each algorithm protects in their newest chain."""
        query = self._latest_algorithm_query().subquery("newest")
        with self.reader.connect() as connection:
            rows = connection.execute(select(query.c.algorithm, func.count()).group_by(query.c.algorithm)).all()
        return {row[0]: row[1] for row in rows}

    def _renewed_leaf(self, seal_seq: int, algorithm: str,
                      report: RenewalReport) -> tuple[bytes, bytes | None] | None:
        """The deposit's leaf in a hash-tree renewal to ``algorithm`` and, when it is renewed as its data group,
        its content's hash in that algorithm (kept in ``seal_members``)."""
        with self.reader.connect() as connection:
            record = assemble(connection, seal_seq)
            row = connection.execute(select(OBJECTS.c.sha256).where(OBJECTS.c.seal_seq == seal_seq)).one()
            metadata = first_record_of(connection, seal_seq) if record is not None and record.grouped else None
        if record is None or record.last_algorithm == algorithm:
            return None
        try:
            data_hash = self._rehash(row.sha256, algorithm)
        except (ValueError, LookupError, OSError) as exc:
            report.failures.append(f"deposit {seal_seq}: {exc}")
            return None
        return (self._leaf(algorithm, data_hash, metadata, encode_sequence(record.chains)),
                data_hash if metadata is not None else None)

    def _write_hash_tree_renewal(self, algorithm: str, pending: list[tuple], imported: bool = False) -> str:
        """One hash-tree renewal batch over ``pending`` (seal_seq or, for imported records, object id; leaf)."""
        table, column = (IMPORTED_MEMBERS, "object_id") if imported else (MEMBERS, "seal_seq")
        members = [{column: who, **({} if imported else {"content_hash": rest[0] if rest else None})}
                   for who, _l, *rest in pending]
        return self.write_tree_batch(HASH_TREE_RENEWAL, algorithm, [leaf for _who, leaf, *_rest in pending], table,
                                     members, Action.RESEAL, **({"imported_records": len(members)} if imported else {}))

    def write_tree_batch(self, kind: str, algorithm: str, leaves: list[bytes], table, members: list[dict],
                         action: Action, then: Callable[[Connection], None] | None = None, **extra) -> str:
        """Timestamp one hash tree over ``leaves`` and write it as a ``kind`` batch with a ``table`` row per leaf
        (``members[i]`` plus the batch id and leaf index), journaled; ``then`` runs in the same unit (it raises
        to undo the batch)."""
        levels = build_levels(digest_function(algorithm), leaves)
        token, endpoint = self.tsa.timestamp(levels[-1][0], algorithm)
        batch = self._batch_row(kind, algorithm, levels, token, endpoint)
        rows = [{"batch_id": batch["id"], "leaf_index": i, **m} for i, m in enumerate(members)]

        def unit(connection: Connection) -> str:
            insert_batch(connection, batch, levels)
            connection.execute(insert(table), rows)
            if then is not None:
                then(connection)
            self._journal(connection, action, batch, **extra)
            return batch["id"]

        return self.writer.run(unit, timeout=600)

    # -- shared ------------------------------------------------------------------------------------------------

    def _batch_row(self, kind: str, algorithm: str, levels, token: TimestampToken, endpoint: TsaEndpoint,
                   first_seq: int | None = None, last_seq: int | None = None) -> dict:
        signer = token.signer_certificate()
        return {
            "id": str(uuid7()), "kind": kind, "algorithm": algorithm, "leaf_count": len(levels[0]),
            "first_seq": first_seq, "last_seq": last_seq, "root": levels[-1][0], "token": token.der,
            "gen_time": token.gen_time, "tsa_url": endpoint.url, "tsa_not_after": signer.not_valid_after_utc,
            "development": int(endpoint.development), "closed_at": None, "created_at": self.clock.now(),
        }

    def _journal(self, connection: Connection, action: Action, batch: dict, **extra) -> None:
        detail = {"batch": batch["id"], "kind": batch["kind"], "algorithm": batch["algorithm"],
                  "leaves": batch["leaf_count"], "gen_time": batch["gen_time"].isoformat(),
                  "tsa": batch["tsa_url"], **extra}
        if batch["first_seq"] is not None:
            detail.update(first_seal_seq=batch["first_seq"], last_seal_seq=batch["last_seq"])
        append_entry(connection, AccessEvent(actor=SYSTEM_ACTOR, action=action, detail=detail), self.clock.now())

    def pending_count(self) -> tuple[int, datetime | None]:
        """How many deposits and metadata record versions wait for their seal, and since when the oldest."""
        with self.reader.connect() as connection:
            start = connection.execute(
                select(func.coalesce(func.max(BATCHES.c.last_seq), -1) + 1).where(BATCHES.c.kind == INITIAL)
            ).scalar_one()
            count, oldest = connection.execute(
                select(func.count(), func.min(OBJECTS.c.deposited_at)).where(OBJECTS.c.seal_seq >= start)).one()
            records, queued = record_backlog(connection)
        return count + records, min((t for t in (oldest, queued) if t is not None), default=None)

    def seal_records(self) -> str | None:
        """Seal the next pending metadata record versions as one ``record-seal`` batch (None when none wait)."""
        return seal_records(self)
