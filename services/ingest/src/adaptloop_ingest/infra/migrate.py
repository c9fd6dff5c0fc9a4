"""Runs the example store's alembic migrations at start, in the configured schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def upgrade_to_head(database_url: str, *, schema: str) -> None:
    """Create `schema` if needed and bring it to the newest revision (concurrent starts wait on a lock)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    config.attributes["schema"] = schema
    command.upgrade(config, "head")
