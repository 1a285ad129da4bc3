"""LRE KPIs folded from the deposits (vault.kpis): per-case facts, per-day counts and delay histograms, and the
failed deposits persisted per day (issue 20).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-20
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_COUNTS = ("sendings", "receipts", "refusals", "negligences", "failed_cases", "unsent_failures", "delays", "delay_ms")


def upgrade() -> None:
    op.create_table(
        "kpi_cases",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("case_ref", sa.String(256), primary_key=True),
        *(sa.Column(name, UTCDateTime()) for name in
          ("at", "sent_at", "receipt_at", "refusal_at", "negligence_at", "failure_at")),
    )
    op.create_index("ix_kpi_cases_tenant_at", "kpi_cases", ["tenant", "at"])
    op.create_index("ix_kpi_cases_at", "kpi_cases", ["at"])
    op.create_table(
        "kpi_days",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _COUNTS),
    )
    op.create_table(
        "kpi_delays",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("bucket", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "kpi_failed_deposits",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("failed", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kpi_failed_deposits")
    op.drop_table("kpi_delays")
    op.drop_table("kpi_days")
    op.drop_index("ix_kpi_cases_at", "kpi_cases")
    op.drop_index("ix_kpi_cases_tenant_at", "kpi_cases")
    op.drop_table("kpi_cases")
