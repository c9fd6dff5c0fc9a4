"""Alembic environment: runs on the connection handed over by `adaptloop_registry.migrate`."""

from __future__ import annotations

from adaptloop_registry.infra.tables import metadata
from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through adaptloop_registry.migrate (it supplies the connection)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
