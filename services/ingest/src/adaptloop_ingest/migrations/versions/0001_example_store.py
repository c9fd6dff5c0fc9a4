"""The example store: examples, every event seen, and ratings waiting for their log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "examples",
        sa.Column("example_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("adapter", sa.Text, nullable=False),
        sa.Column("model", sa.Text),
        sa.Column("adapter_version", sa.Integer),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), unique=True),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("completion", sa.Text),
        sa.Column("correction", sa.Text),
        sa.Column("score", sa.Float),
        sa.Column("feedback_event_id", UUID(as_uuid=True)),
        sa.Column("feedback_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("feedback_at", sa.DateTime(timezone=True)),
        sa.Column("correction_at", sa.DateTime(timezone=True)),
        sa.Column("content_key", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("adapter", "content_key", name="examples_adapter_content_key"),
        sa.CheckConstraint("source IN ('log', 'import')", name="examples_source"),
    )
    op.create_index("examples_adapter_time", "examples", ["adapter", "occurred_at", "example_id"])
    op.create_table(
        "seen_events",
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("example_id", UUID(as_uuid=True), sa.ForeignKey("examples.example_id", ondelete="CASCADE")),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('log', 'feedback')", name="seen_events_kind"),
    )
    op.create_table(
        "pending_feedback",
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("inference_event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("correction", sa.Text),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("pending_feedback_inference_event", "pending_feedback", ["inference_event_id"])


def downgrade() -> None:
    op.drop_table("pending_feedback")
    op.drop_table("seen_events")
    op.drop_table("examples")
