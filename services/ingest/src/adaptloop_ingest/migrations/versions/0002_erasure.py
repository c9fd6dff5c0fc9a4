"""Erasure: the tenant of each logged example (the subject an erasure names) and the erasures done.

Revision ID: 0002_erasure
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002_erasure"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("examples", sa.Column("tenant", sa.Text))
    op.create_index("examples_tenant", "examples", ["tenant"], postgresql_where=sa.text("tenant IS NOT NULL"))
    op.create_table(
        "erasures",
        sa.Column("erasure_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("subject_sha256", sa.Text, nullable=False),
        sa.Column("examples_removed", sa.Integer, nullable=False),
        sa.Column("feedback_removed", sa.Integer, nullable=False),
        sa.Column("answer", sa.JSON, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("erasures_subject", "erasures", ["subject_sha256"])


def downgrade() -> None:
    op.drop_table("erasures")
    op.drop_index("examples_tenant", table_name="examples")
    op.drop_column("examples", "tenant")
