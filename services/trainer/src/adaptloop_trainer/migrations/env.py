"""Alembic environment: runs on the connection `adaptloop_common.service_database.ServiceDatabase` hands over."""

from __future__ import annotations

from adaptloop_common.service_database import run_migrations_in_env

from adaptloop_trainer.infra.tables import metadata

run_migrations_in_env(metadata)
