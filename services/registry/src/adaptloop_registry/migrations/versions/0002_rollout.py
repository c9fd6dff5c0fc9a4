"""Serving reports from inference replicas and rollout decisions of the automated judge (both idempotent);
the details (evidence, calling token) of each alias move.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "serving_reports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("adapter_id", Id, sa.ForeignKey("adapters.id"), nullable=False),
        sa.Column("replica", sa.String(200), nullable=False),
        sa.Column("period_start", Ts, nullable=False),
        sa.Column("period_end", Ts, nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("reported_by", sa.String(200), nullable=False),
        sa.Column("received_at", Ts, nullable=False),
        sa.UniqueConstraint("report_id", name="uq_serving_reports_report_id"),
    )
    op.create_table(
        "rollout_decisions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("adapter_id", Id, sa.ForeignKey("adapters.id"), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("previous_version", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("answer", sa.JSON, nullable=False),
        sa.Column("decided_at", Ts, nullable=False),
        sa.UniqueConstraint("decision_id", name="uq_rollout_decisions_decision_id"),
    )
    op.create_index("ix_rollout_decisions_adapter", "rollout_decisions", ["adapter_id", "id"])
    op.add_column("alias_history", sa.Column("details", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alias_history") as batch:
        batch.drop_column("details")
    op.drop_index("ix_rollout_decisions_adapter", table_name="rollout_decisions")
    op.drop_table("rollout_decisions")
    op.drop_table("serving_reports")
