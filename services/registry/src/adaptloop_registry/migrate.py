"""Alembic migrations, run programmatically at start (and by tests, both directions)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from adaptloop_registry.infra.db import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def upgrade(db: Database, revision: str = "head") -> None:
    """Create the schema if needed and bring it to `revision`."""
    cfg = _config()
    with db.begin() as conn:
        if db.schema is not None:
            # Several replicas may start at once: one migrates, the others wait and find it done.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"adaptloop_registry:{db.schema}"})
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{db.schema}"'))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(db: Database, revision: str = "base") -> None:
    cfg = _config()
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def at_head(db: Database) -> bool:
    return current_revision(db) == head_revision()
