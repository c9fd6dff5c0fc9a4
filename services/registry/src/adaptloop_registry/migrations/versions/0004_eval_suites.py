"""Evaluation suites attached to adapters: versioned, each pinned to an uploaded JSONL artifact by sha256.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "eval_suites",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("adapter_id", Id, sa.ForeignKey("adapters.id"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("artifacts.sha256"), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("tolerance", sa.Float, nullable=False),
        sa.Column("judge", sa.JSON, nullable=True),
        sa.Column("max_new_tokens", sa.Integer, nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("adapter_id", "name", "version", name="uq_eval_suites_version"),
    )


def downgrade() -> None:
    op.drop_table("eval_suites")
