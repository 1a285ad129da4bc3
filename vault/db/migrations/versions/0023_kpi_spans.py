"""KPI counts per dyadic span of hours instead of per day (vault.kpis.spans), so that a query reads a bounded
number of rows for any period and tenant scope; the KPI fold starts again from the first deposit (issue 20).

The per-day tables are replaced, and the derived ``kpi_cases`` rows and the fold's watermark are cleared: the
background fold rebuilds all of them from the archived deposits themselves (the source of every KPI), so no KPI
logic is copied here. Until it has caught up, ``GET /v1/kpis`` reports ``folded_deposits`` below the catalog's.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_COUNTS = ("sendings", "receipts", "refusals", "negligences", "failed_cases", "unsent_failures", "delays", "delay_ms")


def _restart_fold() -> None:
    op.execute("DELETE FROM kpi_cases")
    op.execute("DELETE FROM tracker_state WHERE name = 'kpis'")


def _keyed(name: str, span: str, *extra: sa.Column) -> None:
    keys = ([sa.Column("level", sa.SmallInteger(), primary_key=True, autoincrement=False),
             sa.Column("start", sa.BigInteger(), primary_key=True, autoincrement=False)] if span == "hours"
            else [sa.Column("day", sa.String(10), primary_key=True)])
    op.create_table(name, sa.Column("tenant", sa.String(64), primary_key=True), *keys, *extra,
                    **({"sqlite_with_rowid": False} if span == "hours" else {}))


def _create(counts: str, delays: str, span: str) -> None:
    """The table of counts and the table of delay buckets, keyed by span of hours or by day."""
    _keyed(counts, span, *(sa.Column(n, sa.BigInteger(), nullable=False) for n in _COUNTS))
    _keyed(delays, span, sa.Column("bucket", sa.SmallInteger(), primary_key=True, autoincrement=False),
           sa.Column("count", sa.BigInteger(), nullable=False))


def upgrade() -> None:
    op.drop_table("kpi_delays")
    op.drop_table("kpi_days")
    _create("kpi_spans", "kpi_span_delays", "hours")
    _restart_fold()


def downgrade() -> None:
    op.drop_table("kpi_span_delays")
    op.drop_table("kpi_spans")
    _create("kpi_days", "kpi_delays", "days")
    _restart_fold()
