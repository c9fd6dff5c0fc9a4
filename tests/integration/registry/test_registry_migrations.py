"""Alembic migrations: upgrade to head, downgrade to base, upgrade again, on both backends; replicas that
start together on a fresh schema all come up."""

from __future__ import annotations

from adaptloop_common.service_database import ServiceDatabase
from adaptloop_devstack.migration_checks import check_replicas_start_together, check_upgrade_downgrade_upgrade
from adaptloop_registry.infra.tables import metadata


def test_upgrade_downgrade_upgrade(backend: tuple[str, str]) -> None:
    db = ServiceDatabase(backend[0], service="registry", schema=backend[1])
    try:
        check_upgrade_downgrade_upgrade(db, metadata)
    finally:
        db.drop_schema()
        db.dispose()


def test_replicas_starting_together_on_a_fresh_schema_all_migrate(postgres: tuple[str, str]) -> None:
    url, schema = postgres
    check_replicas_start_together(
        lambda: ServiceDatabase(url, service="registry", schema=schema, pool_size=1), metadata)
