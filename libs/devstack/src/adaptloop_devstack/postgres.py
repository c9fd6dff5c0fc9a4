"""PostgreSQL for the local stack and tests: the server on 127.0.0.1:5432 unless configured otherwise."""

from __future__ import annotations

import os
import uuid

import psycopg
from psycopg import sql


class PostgresUnavailable(RuntimeError):
    pass


def admin_dsn() -> str:
    return os.environ.get("ADAPTLOOP_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+psycopg://", 1)


def _with_db(dsn: str, dbname: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{dbname}"


def ensure_database(name: str) -> str:
    """Create database `name` if missing; return its libpq DSN."""
    try:
        with psycopg.connect(admin_dsn(), autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(
            f"PostgreSQL not reachable at {admin_dsn()} ({exc}). Start it (e.g. "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) "
            "or set ADAPTLOOP_PG_ADMIN_DSN."
        ) from exc
    return _with_db(admin_dsn(), name)


def database_oid(name: str) -> int | None:
    """The database's oid (a recreated database gets a new one), or None when it does not exist."""
    with psycopg.connect(admin_dsn(), autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT oid FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return int(row[0]) if row else None


def create_test_database(prefix: str = "adaptloop_test") -> str:
    return ensure_database(f"{prefix}_{uuid.uuid4().hex[:10]}")


def drop_database(dsn: str) -> None:
    name = dsn.rpartition("/")[2]
    with psycopg.connect(admin_dsn(), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
