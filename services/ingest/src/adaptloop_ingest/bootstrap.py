"""Builds every object of the ingest service; nothing connects before the app starts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adaptloop_common.auth import TokenTable
from adaptloop_common.database import retry_while_unavailable
from adaptloop_common.http import ReadinessCheck, install_common
from adaptloop_common.privacy import PrivacyPolicy
from adaptloop_common.service_database import ServiceDatabase
from adaptloop_contracts.inference import INFERENCE_FEEDBACK, INFERENCE_LOGS
from adaptloop_kafka import ConsumedEvent, EventConsumer, EventProducer, RejectedEvent
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from adaptloop_ingest.api import erasures, errors, events, examples
from adaptloop_ingest.api.deps import Components
from adaptloop_ingest.config import Settings
from adaptloop_ingest.errors import UnstorableEvent
from adaptloop_ingest.handlers import store_consumed_event
from adaptloop_ingest.infra.db import PostgresExampleStore
from adaptloop_ingest.infra.kafka import BatchPublisher, ConsumerThread
from adaptloop_ingest.infra.retention_sql import PostgresRetentionStore
from adaptloop_ingest.retention import RetentionPolicy, RetentionSweeper
from adaptloop_ingest.runtime import IngestRuntime


def producer_config(settings: Settings) -> dict[str, str | int | float | bool]:
    """librdkafka options: its own queue is kept larger than ours, so only ours ever fills."""
    config: dict[str, str | int | float | bool] = {
        "queue.buffering.max.messages": max(100_000, settings.producer_queue_max_messages + 1),
        "message.timeout.ms": int(settings.publish_timeout_s * 1000),
    }
    config.update(settings.producer_config)
    return config


def retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy.from_days(
        examples=settings.example_ttl_days, pending_feedback=settings.pending_feedback_ttl_days,
        seen_events=settings.seen_events_ttl_days, examples_by_adapter=settings.example_ttl_days_by_adapter,
    )


def build_runtime(settings: Settings) -> IngestRuntime:
    """Migrate the schema and build the real producer, store and consumer (not yet started)."""
    privacy = PrivacyPolicy(settings.privacy)
    database = ServiceDatabase(settings.database_url, service="ingest", schema=settings.db_schema,
                               pool_size=settings.db_pool_size, max_overflow=10)
    database.upgrade()
    topics = settings.topic_names
    engine = database.engine
    store = PostgresExampleStore(engine, page_size=settings.export_page_size)
    retention = RetentionSweeper(retention_policy(settings), PostgresRetentionStore(engine),
                                 interval_s=settings.retention_interval_s)
    producer = EventProducer(
        settings.kafka, topics=topics, client_id="adaptloop-ingest", config=producer_config(settings)
    )
    publisher = BatchPublisher(
        producer, max_messages=settings.producer_queue_max_messages, max_bytes=settings.producer_queue_max_bytes,
        timeout_s=settings.publish_timeout_s,
    )
    consumer: ConsumerThread | None = None
    dlq_producer: EventProducer | None = None
    if settings.consumer_enabled:
        dlq = dlq_producer = EventProducer(settings.kafka, topics=topics, client_id="adaptloop-ingest-dlq")

        def make_consumer() -> EventConsumer:
            return EventConsumer(
                settings.kafka, group_id=settings.consumer_group,
                topic_bases=[INFERENCE_LOGS, INFERENCE_FEEDBACK], producer=dlq, topics=topics,
            )

        def handle(consumed: ConsumedEvent) -> None:
            # The database away: wait here (the offset stays uncommitted); after `db_outage_wait_s`
            # the error ends this consumer, a new one rejoins and the event is delivered again.
            try:
                retry_while_unavailable(lambda: store_consumed_event(consumed, store=store, privacy=privacy),
                                        max_wait_s=settings.db_outage_wait_s, where="ingest:consumer")
            except UnstorableEvent as exc:
                raise RejectedEvent(str(exc)) from exc

        consumer = ConsumerThread(make_consumer, handle)

    async def broker_ready() -> tuple[bool, str]:
        metadata = await asyncio.to_thread(producer.raw.list_topics, timeout=2.0)
        return True, f"{len(metadata.brokers)} broker(s)"

    async def database_ready() -> tuple[bool, str]:
        await asyncio.to_thread(store.ping)
        return True, "reachable"

    checks: dict[str, ReadinessCheck] = {"broker": broker_ready, "database": database_ready}
    if consumer is not None:
        watched = consumer

        async def consumer_ready() -> tuple[bool, str]:
            return (True, "partitions assigned") if watched.assigned else (False, "waiting for partition assignment")

        checks["consumer"] = consumer_ready
    components = Components(settings=settings, publisher=publisher, store=store, privacy=privacy)
    return IngestRuntime(components=components, checks=checks, publisher=publisher, consumer=consumer,
                   dead_letter_producer=dlq_producer, retention=retention)


def create_app(settings: Settings, *, runtime: IngestRuntime | None = None) -> FastAPI:
    """The ASGI app. Without `runtime`, the lifespan connects to the configured broker and database."""
    checks: dict[str, ReadinessCheck] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        live = runtime if runtime is not None else await asyncio.to_thread(build_runtime, settings)
        checks.update(live.checks)
        app.state.components = live.components
        live.start()
        try:
            yield
        finally:
            await asyncio.to_thread(live.stop)

    app = FastAPI(
        title="adaptloop ingest",
        version="1",
        description="Logs and feedback over REST into Kafka, and the example store the trainer learns from.",
        lifespan=lifespan,
    )
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    app.state.token_table = TokenTable(settings.tokens)
    install_common(app, max_body_bytes=settings.max_body_bytes, checks=checks)
    errors.install_error_handlers(app, retry_after_s=settings.retry_after_s)
    app.include_router(events.router)
    app.include_router(examples.router)
    app.include_router(erasures.router)
    return app
