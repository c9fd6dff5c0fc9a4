"""Alembic migrations: upgrade to head, downgrade to base, upgrade again, on both backends."""

from __future__ import annotations

from adaptloop_registry import migrate
from adaptloop_registry.infra.db import Database
from adaptloop_registry.infra.tables import metadata
from sqlalchemy import inspect

EXPECTED = {t.name for t in metadata.sorted_tables}


def tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names(schema=db.schema)) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(backend: tuple[str, str]) -> None:
    db = Database(backend[0], schema=backend[1])
    try:
        migrate.upgrade(db)
        assert tables(db) == EXPECTED
        assert migrate.at_head(db)
        migrate.downgrade(db, "base")
        assert tables(db) == set()
        assert migrate.current_revision(db) is None
        migrate.upgrade(db)
        migrate.upgrade(db)  # idempotent
        assert tables(db) == EXPECTED and migrate.at_head(db)
    finally:
        db.drop_schema()
        db.dispose()


def test_migrated_columns_match_the_table_definitions(backend: tuple[str, str]) -> None:
    db = Database(backend[0], schema=backend[1])
    try:
        migrate.upgrade(db)
        inspector = inspect(db.engine)
        for table in metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name, schema=db.schema)}
            assert columns == {c.name for c in table.columns}, table.name
    finally:
        db.drop_schema()
        db.dispose()
