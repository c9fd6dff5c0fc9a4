"""Builds every object of a registry process; tests pass their own settings or producer in."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from adaptloop_common.auth import TokenTable
from adaptloop_common.database import DATABASE_UNAVAILABLE, install_database_unavailable_handler
from adaptloop_common.http import ReadinessCheck, install_common
from adaptloop_common.service_database import ServiceDatabase
from adaptloop_kafka import EventProducer
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from adaptloop_registry.api import aliases, approvals, artifacts, catalog, erasures, plan, rollout, tokens, versions
from adaptloop_registry.api import eval_suites as suite_routes
from adaptloop_registry.api.fast_registration import FastRegistrations
from adaptloop_registry.api.hot_reads import install_hot_reads
from adaptloop_registry.config import Settings
from adaptloop_registry.errors import RegistryError
from adaptloop_registry.infra.alias_cache import AliasCache, channel_name
from adaptloop_registry.infra.artifact_store import LocalArtifactStore
from adaptloop_registry.infra.pg_async import AsyncPostgres
from adaptloop_registry.relay import OutboxRelay, RawProducer
from adaptloop_registry.runtime import RegistryRuntime

log = logging.getLogger(__name__)


def build_runtime(settings: Settings, *, producer: RawProducer | None = None) -> RegistryRuntime:
    """The database, artifact store and outbox relay; nothing connects until the app starts."""
    db = ServiceDatabase(settings.database_url, service="registry", schema=settings.db_schema,
                         pool_size=settings.db_pool_size)
    runtime = RegistryRuntime(settings=settings, db=db, store=LocalArtifactStore(settings.artifact_dir))
    if db.schema is not None:
        conninfo = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        runtime.pg = AsyncPostgres(conninfo, schema=db.schema, size=settings.db_pool_size)
        if settings.alias_cache:
            runtime.alias_cache = AliasCache(conninfo, channel=channel_name(db.schema))
    if settings.relay_enabled:
        producer = producer or EventProducer(
            settings.kafka, topics=settings.topic_names, client_id="adaptloop-registry",
            config={"message.timeout.ms": int(settings.relay_publish_timeout_s * 1000)})
        runtime.relay = OutboxRelay(db, producer, topics=settings.topic_names, batch_size=settings.relay_batch_size,
                                    poll_interval_s=settings.relay_poll_interval_s, linger_s=settings.relay_linger_s,
                                    publish_timeout_s=settings.relay_publish_timeout_s + 5.0)
    return runtime


def create_app(settings: Settings, *, runtime: RegistryRuntime | None = None) -> FastAPI:
    """The HTTP app; its start migrates the database to head and starts the relay."""
    runtime = runtime or build_runtime(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(runtime.db.upgrade)
        if runtime.pg is not None:
            runtime.pg.reopen()
        if runtime.relay is not None:
            runtime.relay.start()
        if runtime.alias_cache is not None:
            await runtime.alias_cache.start()
        try:
            yield
        finally:
            if runtime.alias_cache is not None:
                await runtime.alias_cache.stop()
            if runtime.pg is not None:
                await runtime.pg.close()
            if runtime.relay is not None:
                await run_in_threadpool(runtime.relay.close)
            runtime.db.dispose()

    app = FastAPI(title="adaptloop registry", version="1", lifespan=lifespan,
                  description="Base models, adapters, versions, lineage, aliases, artifacts, serving plan.")
    app.state.runtime = runtime
    app.state.token_table = TokenTable(settings.tokens)
    for module in (catalog, versions, aliases, approvals, rollout, artifacts, suite_routes, plan, erasures, tokens):
        app.include_router(module.router)
    # Added first, so innermost: inside the body guard and the token scope, right around the exception
    # middleware and the router.
    app.add_middleware(FastRegistrations)
    install_common(app, max_body_bytes=settings.max_body_bytes, checks=_readiness_checks(runtime),
                   path_limits={"/v1/artifacts/": settings.max_artifact_bytes})
    _install_error_handlers(app)
    _instrument(app)
    install_hot_reads(app, runtime.alias_cache)
    return app


def _readiness_checks(runtime: RegistryRuntime) -> dict[str, ReadinessCheck]:
    async def database() -> tuple[bool, str]:
        await run_in_threadpool(runtime.db.ping)
        at_head = await run_in_threadpool(runtime.db.at_head)
        return at_head, "migrations at head" if at_head else "migrations not at head"

    async def relay() -> tuple[bool, str]:
        if runtime.relay is None:
            return True, "relay disabled"
        if not runtime.relay.running:
            return False, "relay thread not running"
        age = time.monotonic() - runtime.relay.last_heartbeat
        limit = runtime.relay.publish_timeout_s + 30.0
        return age < limit, f"last iteration {age:.1f}s ago"

    return {"database": database, "relay": relay}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RegistryError)
    async def _registry_error(_request: Request, exc: RegistryError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    async def _integrity(_request: Request, exc: Exception) -> JSONResponse:
        log.info("integrity conflict: %s", getattr(exc, "orig", None) or exc)
        return JSONResponse({"detail": "conflicts with a concurrent change; read the current state and retry"},
                            status_code=409)

    # The registration's transaction runs on psycopg directly (infra/pg_async.py): its errors are answered
    # as SQLAlchemy's are.
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(psycopg.IntegrityError, _integrity)
    install_database_unavailable_handler(app, retry_after_s=1, service="registry")

    async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
        DATABASE_UNAVAILABLE.labels("registry:http").inc()
        log.error("database unavailable: %s", exc)
        return JSONResponse({"detail": "database unavailable; retry later"}, status_code=503,
                            headers={"Retry-After": "1"})

    for exc_type in (psycopg.OperationalError, psycopg.InterfaceError):
        app.add_exception_handler(exc_type, _unavailable)


def _instrument(app: FastAPI) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # One server span a request: the ASGI receive/send spans cost the hot reads about a quarter of their
    # CPU and tell nothing the server span does not (docs/registry.md, Throughput).
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"])
