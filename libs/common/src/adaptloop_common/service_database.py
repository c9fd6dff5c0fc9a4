"""One service's database, the same way in registry, ingest and trainer: an engine whose unqualified
tables live in the service's own PostgreSQL schema (or a SQLite file for a trial), and its alembic
migrations brought to head under one advisory-lock scheme, so replicas that start together are safe.

Each service keeps its migrations in `adaptloop_<service>/migrations`; their `env.py` calls
`run_migrations_in_env`, which runs them on the connection `ServiceDatabase.upgrade` holds the lock on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import URL, make_url

from adaptloop_common.database import engine_options

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

MIGRATION_LOCK_CLASS = 0x0AD1_A7D0
"""First key of the two-key advisory lock every migration takes; the second is `hashtext('<service>:<schema>')`.
Two-key locks never collide with the one-key (bigint) locks services take on their rows."""
_MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(CAST(:cls AS integer), hashtext(:key))"


def sqlalchemy_url(url: str | URL) -> URL:
    """`postgresql://` means psycopg 3 (the driver the services install), not SQLAlchemy's default psycopg2."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg") if parsed.drivername == "postgresql" else parsed


class ServiceDatabase:
    """Owns one service's engine and migrations; nothing connects until the first use.

    On PostgreSQL every connection resolves unqualified names in `schema` (its `search_path`, and a
    schema translation for SQLAlchemy tables); on SQLite there is no schema.
    """

    def __init__(self, url: str | URL, *, service: str, schema: str | None = None, pool_size: int = 5,
                 max_overflow: int | None = None, migrations: Path | None = None) -> None:
        self.service = service
        self.url = sqlalchemy_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        chosen = schema or service
        if not SCHEMA_NAME.match(chosen):
            raise ValueError(f"schema name {chosen!r} must match {SCHEMA_NAME.pattern}")
        self.schema: str | None = None if self.is_sqlite else chosen
        self.migrations = migrations or Path(str(resources.files(f"adaptloop_{service}").joinpath("migrations")))
        self.engine = self._create_engine(pool_size, pool_size if max_overflow is None else max_overflow)

    def _create_engine(self, pool_size: int, max_overflow: int) -> Engine:
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(self.url, connect_args={"check_same_thread": False, "timeout": 30})
            _serialise_sqlite_writers(engine)
            return engine
        return create_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_recycle=1800,
            execution_options={"schema_translate_map": {None: self.schema}},
            **engine_options(options=f"-csearch_path={self.schema}"),
        )

    # -- migrations -------------------------------------------------------------------------------------

    def _alembic_config(self, conn: Connection) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.migrations))
        config.attributes["connection"] = conn
        config.attributes["schema"] = self.schema
        return config

    def upgrade(self, revision: str = "head") -> None:
        """Create the schema if needed and bring it to `revision`, in one transaction.

        Replicas of a service that start at once queue on the same advisory lock: the first migrates,
        the others find the schema at head and change nothing.
        """
        with self.engine.begin() as conn:
            if self.schema is not None:
                conn.execute(text(_MIGRATION_LOCK),
                             {"cls": MIGRATION_LOCK_CLASS, "key": f"{self.service}:{self.schema}"})
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            command.upgrade(self._alembic_config(conn), revision)

    def downgrade(self, revision: str = "base") -> None:
        with self.engine.begin() as conn:
            if self.schema is not None:
                conn.execute(text(_MIGRATION_LOCK),
                             {"cls": MIGRATION_LOCK_CLASS, "key": f"{self.service}:{self.schema}"})
            command.downgrade(self._alembic_config(conn), revision)

    def head_revision(self) -> str | None:
        config = Config()
        config.set_main_option("script_location", str(self.migrations))
        return ScriptDirectory.from_config(config).get_current_head()

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn, opts={"version_table_schema": self.schema}).get_current_revision()

    def at_head(self) -> bool:
        return self.current_revision() == self.head_revision()

    # -- use ----------------------------------------------------------------------------------------------

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back on an exception."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Reads: autocommit on PostgreSQL (one round trip a query), a deferred transaction on SQLite."""
        if self.is_sqlite:
            with self.engine.connect().execution_options(sqlite_deferred=True) as conn, conn.begin():
                yield conn
        else:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def drop_schema(self) -> None:
        if self.schema is not None:
            with self.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))

    def dispose(self) -> None:
        self.engine.dispose()


def run_migrations_in_env(target_metadata: MetaData | None = None) -> None:
    """The body of every service's alembic `env.py`: run on the connection `ServiceDatabase` handed over,
    with the version table in the service's schema."""
    from alembic import context

    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through adaptloop_common.service_database.ServiceDatabase "
                           "(it supplies the connection and holds the migration lock)")
    if context.is_offline_mode():
        raise SystemExit("offline migrations are not supported; run against a database")
    context.configure(connection=connection, target_metadata=target_metadata,
                      version_table_schema=context.config.attributes.get("schema"),
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _serialise_sqlite_writers(engine: Engine) -> None:
    """SQLite has no row locks: every writing transaction takes the write lock up front (BEGIN IMMEDIATE)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("sqlite_deferred") else "BEGIN IMMEDIATE")
