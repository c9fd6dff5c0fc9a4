"""Table definitions of the trainer's schema (the migrations create them)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("job_id", sa.Uuid, primary_key=True),
    sa.Column("request_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("adapter", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("progress", sa.Float, nullable=False, server_default="0"),
    sa.Column("base_model", sa.String(200)),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("training_config", sa.JSON),
    sa.Column("snapshot_id", sa.String(64)),
    sa.Column("snapshot_sha256", sa.String(64)),
    sa.Column("candidate_version", sa.Integer),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("evaluation", sa.JSON),
    sa.Column("report", sa.JSON),
    sa.Column("error", sa.Text),
    sa.Column("traceparent", sa.String(128)),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

regression_examples = sa.Table(
    "regression_examples", metadata,
    sa.Column("adapter", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("snapshot_sha256", sa.String(64), nullable=False),
    sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False),
)
