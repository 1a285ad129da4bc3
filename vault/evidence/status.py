"""What the archive can say about seals: one object's seal state, and the crypto inventory of all batches.

The inventory answers the questions of a crypto-policy review (ETSI TS 119 312, RFC 4998 §5.2): which hash
algorithms protect how many objects, which TSA certificates the newest tokens depend on and when they expire,
which chains are due for renewal, and how far sealing lags behind deposits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from vault.clock import iso_z
from vault.evidence.assemble import assemble
from vault.evidence.batches import BATCHES, HASH_TREE_RENEWAL, INITIAL, LINKS, StoredBatch, initial_batch_of
from vault.evidence.imported import CHAINS as IMPORTED_CHAINS, RENEWALS as IMPORTED_RENEWALS
from vault.evidence.sealing import Sealer
from vault.timestamping.devtsa import DEVELOPMENT_LABEL
from vault_verify.tokens import parse_token



def seal_state(connection: Connection, seal_seq: int) -> dict:
    """``{"status": "pending"}`` or the initial seal of a deposit: batch, seal time, token genTime, TSA."""
    batch = initial_batch_of(connection, seal_seq)
    if batch is None:
        return {"status": "pending"}
    state = {
        "status": "sealed",
        "batch_id": batch.id,
        "algorithm": batch.algorithm,
        "sealed_at": iso_z(batch.created_at),
        "token_gen_time": iso_z(batch.gen_time),
        "tsa": batch.tsa_url,
    }
    if batch.development:
        state["qualification"] = DEVELOPMENT_LABEL
    return state


def seal_chain(connection: Connection, seal_seq: int) -> list[dict]:
    """The batches whose tokens make up deposit ``seal_seq``'s evidence record, in record order (RFC 4998 §5.2:
    the initial seal, each timestamp renewal of its chain, then each hash-tree renewal starting the next chain
    with its own renewals): kind, batch, hash algorithm, token genTime, TSA. Empty while the deposit is pending.
    The same batches :func:`vault.evidence.assemble.assemble` encodes into the ``.ers`` answered by the API."""
    record = assemble(connection, seal_seq)
    if record is None:
        return []
    return [{"kind": b.kind, "batch_id": b.id, "algorithm": b.algorithm, "gen_time": iso_z(b.gen_time),
             "tsa": b.tsa_url, "tsa_not_after": iso_z(b.tsa_not_after),
             **({"qualification": DEVELOPMENT_LABEL} if b.development else {})} for b in record.batches]


def crypto_inventory(sealer: Sealer, scheduler_state, now: datetime) -> dict:
    """Objects per algorithm, TSA certificates, chains with their next renewal, seal lag, and alerts."""
    policy = sealer.policy
    with sealer.reader.connect() as connection:
        batches = [StoredBatch.from_row(r) for r in connection.execute(select(BATCHES).order_by(BATCHES.c.id))]
        links = connection.execute(select(LINKS.c.chain_id, LINKS.c.renewal_id).order_by(LINKS.c.renewal_id)).all()
    pending, oldest = sealer.pending_count()
    by_id = {b.id: b for b in batches}
    newest_of = {}
    for link in links:
        newest_of[link.chain_id] = by_id[link.renewal_id]
    chains, alerts = [], []
    for start in batches:
        if start.kind not in (INITIAL, HASH_TREE_RENEWAL) or start.closed_at is not None:
            continue
        newest = newest_of.get(start.id, start)
        due = policy.renewal_due(newest.gen_time, newest.tsa_not_after)
        weak = start.algorithm in policy.weak
        chains.append({
            "chain": start.id, "kind": start.kind, "algorithm": start.algorithm, "objects": start.leaf_count,
            "tokens": 1 + sum(1 for l in links if l.chain_id == start.id),
            "newest_gen_time": iso_z(newest.gen_time), "tsa_not_after": iso_z(newest.tsa_not_after),
            "next_renewal_due": None if weak else iso_z(due), "weak_algorithm": weak,
        })
        if weak:
            alerts.append(f"chain {start.id}: {start.algorithm} is marked weak; a hash-tree renewal is due")
        elif due <= now:
            alerts.append(f"chain {start.id}: timestamp renewal overdue since {iso_z(due)}")
        if newest.tsa_not_after <= now:
            alerts.append(f"chain {start.id}: its newest token's TSA certificate expired on "
                          f"{iso_z(newest.tsa_not_after)}; the chain can no longer be renewed safely")
    imported = _imported_chains(sealer, by_id, now, alerts)
    certificates = {}
    for batch in batches:
        key = (batch.tsa_url, batch.tsa_not_after)
        if key not in certificates:
            signer = parse_token(batch.token).signer_certificate()
            certificates[key] = {
                "tsa": batch.tsa_url, "subject": signer.subject.rfc4514_string(),
                "issuer": signer.issuer.rfc4514_string(), "serial_number": format(signer.serial_number, "x"),
                "not_after": iso_z(signer.not_valid_after_utc), "tokens": 0,
                "development": batch.development,
            }
        certificates[key]["tokens"] += 1
    lag = (now - oldest).total_seconds() if oldest else 0.0
    if pending and scheduler_state.consecutive_failures:
        alerts.append(f"sealing failing ({scheduler_state.consecutive_failures} attempts): "
                      f"{scheduler_state.last_error}; {pending} deposits wait for their seal")
    if any(b.development for b in batches) or any(e.development for e in sealer.tsa.endpoints):
        alerts.append(f"the built-in development TSA is in use: its tokens are {DEVELOPMENT_LABEL}")
    return {
        "objects_by_algorithm": sealer.objects_by_newest_algorithm(),
        "sealing_algorithm": policy.sealing_algorithm(),
        "weak_algorithms": sorted(policy.weak),
        "tsa_certificates": list(certificates.values()),
        "chains": chains,
        "imported_chains": imported,
        "seal_lag": {"pending": pending, "oldest_pending_deposited_at": iso_z(oldest), "seconds": round(lag, 3)},
        "scheduler": {
            "last_seal_at": iso_z(scheduler_state.last_seal_at), "last_error": scheduler_state.last_error,
            "last_error_at": iso_z(scheduler_state.last_error_at),
            "consecutive_failures": scheduler_state.consecutive_failures,
        },
        "alerts": alerts,
    }


def _imported_chains(sealer: Sealer, by_id: dict, now: datetime, alerts: list[str]) -> list[dict]:
    """The last chains of imported evidence records that this archive continues (vault.evidence.imported)."""
    policy = sealer.policy
    with sealer.reader.connect() as connection:
        rows = connection.execute(select(IMPORTED_CHAINS).order_by(IMPORTED_CHAINS.c.key)).all()
        links = connection.execute(select(IMPORTED_RENEWALS.c.chain_key, IMPORTED_RENEWALS.c.renewal_id)
                                   .order_by(IMPORTED_RENEWALS.c.renewal_id)).all() if rows else []
    renewals: dict[str, list[StoredBatch]] = {}
    for link in links:
        renewals.setdefault(link.chain_key, []).append(by_id[link.renewal_id])
    out = []
    for row in rows:
        here = renewals.get(row.key, [])
        gen_time, not_after = (here[-1].gen_time, here[-1].tsa_not_after) if here else (row.gen_time, row.not_after)
        weak = row.algorithm in policy.weak
        due = policy.renewal_due(gen_time, not_after)
        out.append({"chain": row.key, "algorithm": row.algorithm, "renewals_here": len(here),
                    "newest_gen_time": iso_z(gen_time), "tsa_not_after": iso_z(not_after),
                    "next_renewal_due": None if weak else iso_z(due), "weak_algorithm": weak})
        if not weak and due <= now:
            alerts.append(f"imported chain {row.key[:16]}…: timestamp renewal overdue since {iso_z(due)}")
    return out
