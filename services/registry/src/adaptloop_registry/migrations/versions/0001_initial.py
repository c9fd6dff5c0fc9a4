"""Base models, artifacts, adapters, versions, evaluations, aliases and their history, load failures, outbox, audit.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "base_models",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("weights_sha256", sa.String(64), nullable=False),
        sa.Column("successor_of", sa.String(200), sa.ForeignKey("base_models.name"), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
    )
    op.create_table(
        "artifacts",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(128), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("uploaded_at", Ts, nullable=False),
    )
    op.create_table(
        "adapters",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("base_model", sa.String(200), sa.ForeignKey("base_models.name"), nullable=False),
        sa.Column("training_config", sa.JSON, nullable=False),
        sa.Column("promotion_mode", sa.String(16), nullable=False),
        sa.Column("canary_weight", sa.Float, nullable=False),
        sa.Column("canary_min_requests", sa.Integer, nullable=False),
        sa.Column("next_version", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
    )
    op.create_table(
        "adapter_versions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("adapter_id", Id, sa.ForeignKey("adapters.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(200), nullable=True),
        sa.Column("weights_sha256", sa.String(64), nullable=False),
        sa.Column("weights_size", sa.BigInteger, nullable=False),
        sa.Column("config_sha256", sa.String(64), nullable=False),
        sa.Column("base_model", sa.String(200), nullable=False),
        sa.Column("dataset_snapshot_id", sa.String(200), nullable=True),
        sa.Column("dataset_sha256", sa.String(64), nullable=True),
        sa.Column("training_config", sa.JSON, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=True),
        sa.Column("code_revision", sa.String(200), nullable=True),
        sa.Column("parent_version", sa.Integer, nullable=True),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("served_requests", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.Column("registered_at", Ts, nullable=False),
        sa.Column("retired_by", sa.String(200), nullable=True),
        sa.Column("retired_at", Ts, nullable=True),
        sa.UniqueConstraint("adapter_id", "version", name="uq_adapter_versions_number"),
        sa.UniqueConstraint("adapter_id", "request_id", name="uq_adapter_versions_request"),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("version_id", Id, sa.ForeignKey("adapter_versions.id"), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("verdict", sa.Text, nullable=True),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", Ts, nullable=False),
    )
    op.create_index("ix_evaluations_version_id", "evaluations", ["version_id"])
    op.create_table(
        "aliases",
        sa.Column("adapter_id", Id, sa.ForeignKey("adapters.id"), primary_key=True),
        sa.Column("alias", sa.String(63), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("weight", sa.Float, nullable=True),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
    )
    op.create_table(
        "alias_history",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("adapter_id", Id, sa.ForeignKey("adapters.id"), nullable=False),
        sa.Column("alias", sa.String(63), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("weight", sa.Float, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("moved_at", Ts, nullable=False),
    )
    op.create_index("ix_alias_history_lookup", "alias_history", ["adapter_id", "alias", "id"])
    op.create_table(
        "load_failures",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("version_id", Id, sa.ForeignKey("adapter_versions.id"), nullable=False),
        sa.Column("replica", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reported_by", sa.String(200), nullable=False),
        sa.Column("reported_at", Ts, nullable=False),
    )
    op.create_index("ix_load_failures_version_id", "load_failures", ["version_id"])
    op.create_table(
        "outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("event_key", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("traceparent", sa.String(100), nullable=True),
        sa.Column("tracestate", sa.String(512), nullable=True),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("sent_at", Ts, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_outbox_unsent", "outbox", ["id"], postgresql_where=sa.text("sent_at IS NULL"),
                    sqlite_where=sa.text("sent_at IS NULL"))
    op.create_table(
        "audit_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("at", Ts, nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_log", "outbox", "load_failures", "alias_history", "aliases", "evaluations",
                  "adapter_versions", "adapters", "artifacts", "base_models"):
        op.drop_table(table)
