"""Erasure flags: versions whose dataset lineage holds erased examples (`erasure_pending` until retired).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "erasure_flags",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("erasure_id", sa.String(36), nullable=False),
        sa.Column("version_id", Id, sa.ForeignKey("adapter_versions.id"), nullable=False),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("dataset_sha256", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("flagged_by", sa.String(200), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("erasure_id", "version_id", name="uq_erasure_flags_version"),
    )
    op.create_index("ix_erasure_flags_version", "erasure_flags", ["version_id"])


def downgrade() -> None:
    op.drop_index("ix_erasure_flags_version", table_name="erasure_flags")
    op.drop_table("erasure_flags")
