"""The registry's tables (SQLAlchemy Core). Migrations in `migrations/` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

Id = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit keys on PostgreSQL; SQLite only auto-increments INTEGER primary keys."""

base_models = Table(
    "base_models", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("version", String(100), nullable=False),
    Column("location", Text, nullable=False),
    Column("weights_sha256", String(64), nullable=False),
    Column("successor_of", String(200), ForeignKey("base_models.name"), nullable=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

artifacts = Table(
    "artifacts", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("filename", String(128), nullable=False),
    Column("uploaded_by", String(200), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
)

adapters = Table(
    "adapters", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("base_model", String(200), ForeignKey("base_models.name"), nullable=False),
    Column("training_config", JSON, nullable=False),
    Column("promotion_mode", String(16), nullable=False),
    Column("canary_weight", Float, nullable=False),
    Column("canary_min_requests", Integer, nullable=False),
    Column("next_version", Integer, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

versions = Table(
    "adapter_versions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("adapter_id", Id, ForeignKey("adapters.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("request_id", String(200), nullable=True),
    Column("weights_sha256", String(64), nullable=False),
    Column("weights_size", BigInteger, nullable=False),
    Column("config_sha256", String(64), nullable=False),
    Column("base_model", String(200), nullable=False),
    Column("dataset_snapshot_id", String(200), nullable=True),
    Column("dataset_sha256", String(64), nullable=True),
    Column("training_config", JSON, nullable=False),
    Column("seed", BigInteger, nullable=True),
    Column("code_revision", String(200), nullable=True),
    Column("parent_version", Integer, nullable=True),
    Column("metrics", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("served_requests", BigInteger, nullable=False, server_default=text("0")),
    Column("served_tokens", BigInteger, nullable=False, server_default=text("0")),  # 0005
    Column("registered_by", String(200), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("retired_by", String(200), nullable=True),
    Column("retired_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("adapter_id", "version", name="uq_adapter_versions_number"),
    UniqueConstraint("adapter_id", "request_id", name="uq_adapter_versions_request"),
)

evaluations = Table(
    "evaluations", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("version_id", Id, ForeignKey("adapter_versions.id"), nullable=False, index=True),
    Column("passed", Boolean, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("verdict", Text, nullable=True),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

eval_suites = Table(
    "eval_suites", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("adapter_id", Id, ForeignKey("adapters.id"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), ForeignKey("artifacts.sha256"), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("tolerance", Float, nullable=False),
    Column("judge", JSON, nullable=True),
    Column("max_new_tokens", Integer, nullable=False),
    Column("items", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("adapter_id", "name", "version", name="uq_eval_suites_version"),
)

aliases = Table(
    "aliases", metadata,
    Column("adapter_id", Id, ForeignKey("adapters.id"), primary_key=True),
    Column("alias", String(63), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("weight", Float, nullable=True),
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

alias_history = Table(
    "alias_history", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("adapter_id", Id, ForeignKey("adapters.id"), nullable=False),
    Column("alias", String(63), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("weight", Float, nullable=True),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("moved_at", DateTime(timezone=True), nullable=False),
    Column("details", JSON, nullable=True),  # evidence and calling token of an automated move (0002)
    Index("ix_alias_history_lookup", "adapter_id", "alias", "id"),
)

load_failures = Table(
    "load_failures", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("version_id", Id, ForeignKey("adapter_versions.id"), nullable=False, index=True),
    Column("replica", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("reported_by", String(200), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("topic", String(200), nullable=False),
    Column("event_key", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("traceparent", String(100), nullable=True),
    Column("tracestate", String(512), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text, nullable=True),
)
Index("ix_outbox_unsent", outbox.c.id, postgresql_where=outbox.c.sent_at.is_(None),
      sqlite_where=outbox.c.sent_at.is_(None))

audit_log = Table(
    "audit_log", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(300), nullable=False),
    Column("details", JSON, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

serving_reports = Table(
    "serving_reports", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("report_id", String(36), nullable=False),
    Column("adapter_id", Id, ForeignKey("adapters.id"), nullable=False),
    Column("replica", String(200), nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("period_end", DateTime(timezone=True), nullable=False),
    Column("counts", JSON, nullable=False),
    Column("tokens", JSON, nullable=True),  # tokens served per version (0005)
    Column("requests", BigInteger, nullable=False),
    Column("reported_by", String(200), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("report_id", name="uq_serving_reports_report_id"),
)

rollout_decisions = Table(
    "rollout_decisions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("decision_id", String(36), nullable=False),
    Column("adapter_id", Id, ForeignKey("adapters.id"), nullable=False),
    Column("action", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("previous_version", Integer, nullable=True),
    Column("reason", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("decided_by", String(200), nullable=False),
    Column("answer", JSON, nullable=False),  # the first answer, returned again to a repeated decision
    Column("decided_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("decision_id", name="uq_rollout_decisions_decision_id"),
    Index("ix_rollout_decisions_adapter", "adapter_id", "id"),
)

erasure_flags = Table(
    "erasure_flags", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("erasure_id", String(36), nullable=False),
    Column("version_id", Id, ForeignKey("adapter_versions.id"), nullable=False),
    Column("cause", String(32), nullable=False),  # `dataset` (its snapshot held them) | `parent` (trained on top)
    Column("dataset_sha256", String(64), nullable=True),
    Column("reason", Text, nullable=False),
    Column("flagged_by", String(200), nullable=False),
    Column("flagged_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("erasure_id", "version_id", name="uq_erasure_flags_version"),
    Index("ix_erasure_flags_version", "version_id"),
)
