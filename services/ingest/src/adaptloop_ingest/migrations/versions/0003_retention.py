"""Retention: indexes on the times each table's TTL is measured from, so the periodic sweep stays cheap.

Revision ID: 0003_retention
Revises: 0002_erasure
"""

from alembic import op

revision = "0003_retention"
down_revision = "0002_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("examples_adapter_stored_at", "examples", ["adapter", "stored_at"])
    op.create_index("seen_events_seen_at", "seen_events", ["seen_at"])
    op.create_index("pending_feedback_received_at", "pending_feedback", ["received_at"])


def downgrade() -> None:
    op.drop_index("pending_feedback_received_at", table_name="pending_feedback")
    op.drop_index("seen_events_seen_at", table_name="seen_events")
    op.drop_index("examples_adapter_stored_at", table_name="examples")
