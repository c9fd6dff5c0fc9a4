"""Builds every object of the service and ties their lifetimes to the FastAPI app."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from adaptloop_common.http import install_common
from adaptloop_common.privacy import PrivacyPolicy
from adaptloop_kafka import EventProducer
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adaptloop_inference.adapter_cache import AdapterCache
from adaptloop_inference.adapter_files import AdapterLimits, base_shapes
from adaptloop_inference.api import chat, completions, models, state
from adaptloop_inference.api.errors import NO_VERSION, VERSION_HEADER, install_error_handlers, openai_error_body
from adaptloop_inference.config import Settings
from adaptloop_inference.engine_slot import EngineSlot
from adaptloop_inference.generation import GenerationService
from adaptloop_inference.infra.kafka_logs import KafkaLogPublisher
from adaptloop_inference.infra.registry_client import RegistryClient
from adaptloop_inference.infra.registry_events import RegistryEventFollower
from adaptloop_inference.ports import TextEngine
from adaptloop_inference.reconciler import Reconciler
from adaptloop_inference.runtime import InferenceRuntime, Readiness
from adaptloop_inference.serving_reporter import ServingReporter
from adaptloop_inference.swap_manager import SwapManager

log = logging.getLogger(__name__)

EngineFactory = Callable[[Settings], Awaitable[TextEngine]]


async def start_vllm(settings: Settings) -> TextEngine:
    from adaptloop_inference.infra.vllm_engine import VllmEngine

    return await VllmEngine.start(
        settings.base_model_dir, max_loras=settings.max_loras, max_lora_rank=settings.max_lora_rank,
        max_cpu_loras=settings.max_cpu_loras, max_model_len=settings.max_model_len,
        max_num_seqs=settings.max_num_seqs, dtype=settings.dtype, seed=settings.seed,
        gpu_memory_utilization=settings.gpu_memory_utilization, tool_call_parser=settings.tool_call_parser or None,
    )


def build_runtime(settings: Settings) -> InferenceRuntime:
    """The engine slot, registry client, adapter cache and privacy policy; nothing connects until the app starts."""
    if not settings.replica_id:
        settings.replica_id = f"{socket.gethostname()}-{os.getpid()}"
    registry = RegistryClient(
        settings.registry_url, timeout_s=settings.registry_timeout_s,
        token=settings.registry_token.get_secret_value() if settings.registry_token else None,
    )
    limits = AdapterLimits(max_rank=settings.max_lora_rank, supported_modules=settings.supported_modules,
                           base=base_shapes(settings.base_model_dir))
    return InferenceRuntime(settings=settings, readiness=Readiness(), engine=EngineSlot(), registry=registry,
                            cache=AdapterCache(settings.adapter_cache_dir, registry=registry, limits=limits),
                            privacy=PrivacyPolicy(settings.privacy))


def create_app(settings: Settings, *, runtime: InferenceRuntime | None = None,
               engine_factory: EngineFactory = start_vllm) -> FastAPI:
    """The app; the engine, the sync loop and the Kafka threads start in its lifespan."""
    runtime = runtime or build_runtime(settings)
    readiness, engine, registry, cache, privacy = (
        runtime.readiness, runtime.engine, runtime.registry, runtime.cache, runtime.privacy)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        def new_producer() -> EventProducer:
            return EventProducer(
                settings.kafka, topics=settings.topic_names, client_id=f"inference-{settings.replica_id}",
                config={"message.timeout.ms": settings.log_delivery_timeout_ms, "enable.idempotence": False},
            )

        producer = new_producer()
        publisher = KafkaLogPublisher(new_producer, queue_size=settings.log_queue_size,
                                      batch_size=settings.log_batch_size, scrub=privacy.scrub_log)
        swaps = SwapManager(engine=engine, cache=cache, registry=registry, base_model=settings.base_model,
                            replica_id=settings.replica_id, preload_slots=settings.preload_slots)
        reconciler = Reconciler(swaps=swaps, registry=registry, cache=cache, base_model=settings.base_model,
                                interval_s=settings.reconcile_interval_s)
        app.state.swaps = swaps
        app.state.reconciler = reconciler
        app.state.log_publisher = publisher
        reporter = _serving_reporter(settings, registry)
        app.state.serving_reporter = reporter
        refresh_s = settings.unknown_model_refresh_s
        app.state.generation = GenerationService(
            engine=engine, swaps=swaps, logs=publisher, base_model=settings.base_model,
            is_ready=lambda: readiness.ready,
            refresh_plan=(lambda: reconciler.refresh(refresh_s)) if refresh_s > 0 else None,
            served=reporter.record if reporter is not None else None,
        )
        publisher.start()
        reporting = asyncio.create_task(reporter.run()) if reporter is not None else None
        startup = asyncio.create_task(_start(settings, engine, readiness, reconciler, producer, engine_factory))
        try:
            yield
        finally:
            startup.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await startup
            if reporter is not None and reporting is not None:
                reporter.stop()  # one last report of what was served, bounded in time
                with suppress(asyncio.CancelledError, TimeoutError, Exception):
                    await asyncio.wait_for(reporting, timeout=settings.registry_timeout_s)
            if readiness.follower is not None:
                await asyncio.to_thread(readiness.follower.stop)
            await asyncio.to_thread(publisher.stop)
            await registry.aclose()
            if engine.filled:
                engine.engine.shutdown()  # type: ignore[attr-defined]

    app = FastAPI(title="adaptloop inference", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.readiness = readiness
    app.state.api_key_digests = settings.api_key_digests
    install_error_handlers(app)
    for router in (completions.router, chat.router, models.router, state.router):
        app.include_router(router)
    install_common(app, max_body_bytes=settings.max_body_bytes, error_body=openai_error_body, checks={
        "engine": lambda: _check(readiness.engine_started, readiness.startup_error or "starting"),
        "serving_plan": lambda: _check(readiness.first_sync, "not synced with the registry yet"),
    })
    app.add_middleware(DefaultVersionHeader)
    _instrument(app)
    return app


def _serving_reporter(settings: Settings, registry: RegistryClient) -> ServingReporter | None:
    """The reporter of served requests, unless reporting is off (interval 0) or there is no registry token."""
    if settings.serving_report_interval_s <= 0:
        log.info("serving reports disabled (ADAPTLOOP_INFERENCE_SERVING_REPORT_INTERVAL_S=0)")
        return None
    if settings.registry_token is None:
        log.warning("serving reports disabled: no ADAPTLOOP_INFERENCE_REGISTRY_TOKEN (role trainer) configured")
        return None
    return ServingReporter(port=registry, replica=settings.replica_id, interval_s=settings.serving_report_interval_s,
                           max_pending=settings.serving_report_max_pending)


async def _check(ok: bool, detail: str) -> tuple[bool, str]:
    return ok, "ok" if ok else detail


async def _start(
    settings: Settings, engine: EngineSlot, readiness: Readiness, reconciler: Reconciler, producer: EventProducer,
    engine_factory: EngineFactory,
) -> None:
    """Engine first, then the event follower, then the first sync; ready only after all three."""
    try:
        engine.fill(await engine_factory(settings))
    except Exception as exc:
        readiness.startup_error = f"engine failed to start: {type(exc).__name__}: {exc}"
        log.exception("engine failed to start")
        raise
    readiness.engine_started = True
    loop = asyncio.get_running_loop()
    follower = RegistryEventFollower(
        settings.kafka, topics=settings.topic_names, replica_id=settings.replica_id, producer=producer,
        loop=loop, on_event=reconciler.on_registry_event,
        config={"fetch.wait.max.ms": settings.registry_events_fetch_wait_ms},
    )
    readiness.follower = follower
    follower.start()
    sync_loop = asyncio.create_task(reconciler.run())
    try:
        await reconciler.wait_synced()
        readiness.first_sync = True
        log.info("inference replica %s ready", settings.replica_id)
        await sync_loop
    finally:
        sync_loop.cancel()
        with suppress(asyncio.CancelledError):
            await sync_loop


class DefaultVersionHeader:
    """Every response carries `x-adaptloop-adapter-version`; `none` where no model produced it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == VERSION_HEADER.encode() for k, _ in headers):
                    headers.append((VERSION_HEADER.encode(), NO_VERSION.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)


def _instrument(app: FastAPI) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
