"""Tokens served per version (prompt + completion), added up from the serving reports.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("adapter_versions", sa.Column("served_tokens", sa.BigInteger, nullable=False,
                                                server_default=sa.text("0")))
    op.add_column("serving_reports", sa.Column("tokens", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("serving_reports") as batch:
        batch.drop_column("tokens")
    with op.batch_alter_table("adapter_versions") as batch:
        batch.drop_column("served_tokens")
