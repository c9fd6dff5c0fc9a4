"""The example store's alembic migrations: upgrade to head, downgrade to base, upgrade again; replicas that
start together on a fresh schema all come up."""

from __future__ import annotations

from adaptloop_common.service_database import ServiceDatabase
from adaptloop_devstack.migration_checks import check_replicas_start_together, check_upgrade_downgrade_upgrade
from adaptloop_ingest.infra.tables import metadata


def test_upgrade_downgrade_upgrade(pg_dsn: str, pg_schema: str) -> None:
    db = ServiceDatabase(pg_dsn, service="ingest", schema=pg_schema)
    try:
        check_upgrade_downgrade_upgrade(db, metadata)
    finally:
        db.drop_schema()
        db.dispose()


def test_replicas_starting_together_on_a_fresh_schema_all_migrate(pg_dsn: str, pg_schema: str) -> None:
    check_replicas_start_together(lambda: ServiceDatabase(pg_dsn, service="ingest", schema=pg_schema, pool_size=1),
                                  metadata)
