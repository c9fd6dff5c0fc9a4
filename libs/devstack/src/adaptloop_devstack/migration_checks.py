"""Checks every service's migrations pass on a real database: up, down and up again to the tables the
code defines, and replicas that start together on a fresh schema all come up (the migration lock)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from adaptloop_common.service_database import ServiceDatabase
from sqlalchemy import MetaData, inspect


def migrated_tables(db: ServiceDatabase) -> set[str]:
    return set(inspect(db.engine).get_table_names(schema=db.schema)) - {"alembic_version"}


def check_upgrade_downgrade_upgrade(db: ServiceDatabase, metadata: MetaData) -> None:
    """Head has exactly the code's tables and columns; base has none; a second upgrade changes nothing."""
    expected = {t.name for t in metadata.sorted_tables}
    db.upgrade()
    assert migrated_tables(db) == expected
    assert db.at_head()
    check_columns_match(db, metadata)
    db.downgrade("base")
    assert migrated_tables(db) == set()
    assert db.current_revision() is None
    db.upgrade()
    db.upgrade()  # idempotent
    assert migrated_tables(db) == expected and db.at_head()


def check_columns_match(db: ServiceDatabase, metadata: MetaData) -> None:
    inspector = inspect(db.engine)
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name, schema=db.schema)}
        assert columns == {c.name for c in table.columns}, table.name


def check_replicas_start_together(open_database: Callable[[], ServiceDatabase], metadata: MetaData, *,
                                  replicas: int = 4) -> None:
    """`replicas` databases (one engine each, as separate processes would have) migrate the same fresh
    schema at the same moment: every one succeeds and the schema ends at head."""
    databases = [open_database() for _ in range(replicas)]
    together = threading.Barrier(replicas)

    def start(db: ServiceDatabase) -> None:
        together.wait(timeout=30)
        db.upgrade()

    try:
        with ThreadPoolExecutor(replicas) as pool:
            for started in [pool.submit(start, db) for db in databases]:
                started.result(timeout=120)  # raises what that replica's migration raised
        assert all(db.at_head() for db in databases)
        assert migrated_tables(databases[0]) == {t.name for t in metadata.sorted_tables}
    finally:
        databases[0].drop_schema()
        for db in databases:
            db.dispose()
