"""The database: it answers, its schema is at the head migration (Alembic), and the work waiting in it (deposits
not yet sealed, timestamp renewals due, disposal batches waiting, open fixity alerts)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from vault.db.engine import make_engine
from vault.db.migrate import current_revision, head_revision
from vault.db.tables import DisposalBatch
from vault.doctor.report import ERROR, OK, WARNING, Finding
from vault.settings import Settings
from vault.storage.fixity import open_counts

BATCHES = DisposalBatch.__table__
SEAL_LAG_WARNING = timedelta(minutes=10)  # the seal lag alert of deploy/prometheus


def check_migrations(settings: Settings, now: datetime) -> list[Finding]:
    engine = make_engine(settings.effective_database_url)
    try:
        current, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    if current is None:
        return [Finding("db.schema", WARNING, "the database has no schema yet", "it is created at the first start, "
                        "or run `vault db upgrade`")]
    if current != head:
        return [Finding("db.schema", ERROR, f"the schema is at revision {current}, the code expects {head}",
                        "run `vault db upgrade` (back the database up first)")]
    return [Finding("db.schema", OK, f"the schema is at the head revision {head}")]


def check_pending(settings: Settings, now: datetime) -> list[Finding]:
    from vault.composition import seal_policy
    from vault.clock import FixedClock
    from vault.evidence.sealing import Sealer

    engine = make_engine(settings.effective_database_url)
    try:
        if current_revision(engine) is None:
            return []
        sealer = Sealer(engine, None, None, FixedClock(now), seal_policy(settings), None)
        unsealed, oldest = sealer.pending_count()
        renewals = len(sealer.due_chains()) + len(sealer.due_imported_chains())
        with engine.connect() as connection:
            batches = dict(connection.execute(select(BATCHES.c.status, func.count()).group_by(BATCHES.c.status)).all())
            fixity = sum(open_counts(connection).values())
    finally:
        engine.dispose()
    findings = []
    if unsealed:
        lag = now - oldest
        status = WARNING if lag > SEAL_LAG_WARNING else OK
        findings.append(Finding("pending.seals", status, f"{unsealed} deposit(s) wait for their seal, the oldest "
                                f"for {int(lag.total_seconds())} s", "check the TSA and the sealer (`vault seal`)"
                                if status == WARNING else ""))
    if renewals:
        findings.append(Finding("pending.renewals", WARNING, f"{renewals} evidence chain(s) due for a timestamp "
                                "renewal (RFC 4998 §5.2)", "check that the scheduler runs and the TSA answers"))
    waiting = {status: n for status, n in batches.items() if status in ("proposed", "approved")}
    if waiting:
        findings.append(Finding("pending.disposal", OK, "disposal batches: " + ", ".join(
            f"{n} {status}" for status, n in sorted(waiting.items())), ""))
    if fixity:
        findings.append(Finding("pending.fixity", ERROR, f"{fixity} fixity alert(s) open (a copy corrupt or missing)",
                                "see `GET /v1/alerts` and the copies report; repair or restore the copies"))
    return findings or [Finding("pending", OK, "nothing waiting: every deposit sealed, no renewal due, no alert open")]


def check_identity(settings: Settings, now: datetime) -> list[Finding]:
    """The keys in ``VAULT_KEYS_DIR`` are those the database recorded at its first start (:mod:`vault.identity`);
    nothing is made here: missing keys are made at the first start."""
    from sqlalchemy import inspect

    from vault.identity import KEY_FILES, differences, load_identity, mismatch_message, recorded_fingerprints

    keys_dir = settings.effective_keys_dir
    if not all((keys_dir / name).exists() for name in KEY_FILES):
        return [Finding("keys.identity", OK, f"{keys_dir} has not all the shared keys yet: made at the first start")]
    engine = make_engine(settings.effective_database_url)
    try:
        if not inspect(engine).has_table("archive_identity"):
            return [Finding("keys.identity", WARNING, "the database records no key fingerprints yet",
                            "they are recorded at the next start (after `vault db upgrade`)")]
        with engine.connect() as connection:
            recorded = recorded_fingerprints(connection)
    finally:
        engine.dispose()
    differing = differences(recorded, load_identity(keys_dir, settings.journal_origin, f"vault.{settings.instance}",
                                                    now).fingerprints())
    if differing:
        return [Finding("keys.identity", ERROR, mismatch_message(keys_dir, differing),
                        "copy the keys of the replicas already serving this database into VAULT_KEYS_DIR")]
    return [Finding("keys.identity", OK, f"the keys in {keys_dir} are those the database recorded "
                    f"({len(recorded)} fingerprints)")]
