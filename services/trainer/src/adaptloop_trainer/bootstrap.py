"""Builds every object of the trainer from Settings (`build_runtime`) and its HTTP app (`create_app`); nothing
connects before `TrainerRuntime.start`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from adaptloop_common.auth import TokenTable
from adaptloop_common.database import install_database_unavailable_handler
from adaptloop_common.http import install_common
from adaptloop_common.privacy import PrivacyPolicy
from adaptloop_common.service_database import ServiceDatabase
from adaptloop_kafka import EventProducer
from fastapi import FastAPI

from adaptloop_trainer import handlers
from adaptloop_trainer.api import governance as governance_api
from adaptloop_trainer.api import jobs as jobs_api
from adaptloop_trainer.candidate import TrainerParams
from adaptloop_trainer.config import Settings
from adaptloop_trainer.dataset_privacy import RedactedExamples
from adaptloop_trainer.infra.db import SqlJobStore
from adaptloop_trainer.infra.ingest_client import IngestClient
from adaptloop_trainer.infra.judge_client import judge_answer
from adaptloop_trainer.infra.kafka import KafkaTrainingEvents, RetrainRequestConsumer
from adaptloop_trainer.infra.registry_client import RegistryClient
from adaptloop_trainer.job_runner import JobRunner
from adaptloop_trainer.runtime import TrainerRuntime
from adaptloop_trainer.torch_runtime import import_training_stack


def code_revision(settings: Settings) -> str:
    if settings.code_revision:
        return settings.code_revision
    try:
        return f"adaptloop-trainer {package_version('adaptloop-trainer')}"
    except PackageNotFoundError:
        return "adaptloop-trainer unknown"


def build_runtime(settings: Settings) -> TrainerRuntime:
    """Every object of the trainer; nothing connects before `TrainerRuntime.start`."""
    database = ServiceDatabase(settings.database_url, service="trainer", schema=settings.db_schema, pool_size=5)
    store = SqlJobStore(database.engine)
    registry = RegistryClient(settings.registry_url, settings.registry_token, timeout_s=settings.http_timeout_s)
    ingest = IngestClient(settings.ingest_url, settings.ingest_token, timeout_s=settings.http_timeout_s)
    producer = EventProducer(settings.kafka, topics=settings.topic_names, client_id="adaptloop-trainer")
    events = KafkaTrainingEvents(producer)
    params = TrainerParams(
        models_dir=settings.models_dir.resolve(), work_dir=settings.work_dir.resolve(),
        min_examples=settings.min_examples, threads=settings.torch_threads,
        checkpoint_every=settings.checkpoint_every, regression_per_snapshot=settings.regression_per_snapshot,
        code_revision=code_revision(settings), default_training_config=dict(settings.default_training_config),
        judge=judge_answer,
    )
    examples = RedactedExamples(ingest, PrivacyPolicy(settings.privacy))
    runner = JobRunner(store=store, registry=registry, examples=examples, events=events, params=params,
                       warm_up=import_training_stack)
    consumer = RetrainRequestConsumer(
        settings.kafka, group_id=settings.consumer_group, topics=settings.topic_names, producer=producer,
        accept=lambda request, tp: handlers.accept_request(request, tp, store=store, runner=runner).job_id,
        job_is_final=lambda job_id: bool((job := store.get(job_id)) is None or job.is_final),
    )
    return TrainerRuntime(settings, database, store, registry, ingest, producer, events, runner, consumer)


def create_app(settings: Settings, *, runtime: TrainerRuntime | None = None) -> FastAPI:
    """The HTTP app; its lifespan starts and stops the runtime (built from `settings` unless given)."""
    trainer = runtime or build_runtime(settings)
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(trainer.start)
        try:
            yield
        finally:
            await asyncio.to_thread(trainer.stop)

    app = FastAPI(title="adaptloop trainer", version="0.1.0", lifespan=lifespan)
    app.state.store = trainer.store
    app.state.runner = trainer.runner
    app.state.events = trainer.events
    app.state.registry = trainer.registry
    app.state.default_training_config = dict(trainer.settings.default_training_config)
    app.state.token_table = TokenTable(trainer.settings.tokens)

    async def database() -> tuple[bool, str]:
        await asyncio.to_thread(trainer.store.ping)
        return True, "ok"

    async def registry() -> tuple[bool, str]:
        await asyncio.to_thread(trainer.registry.ping)
        return True, "ok"

    async def consumer() -> tuple[bool, str]:
        assigned = trainer.consumer.assigned.is_set()
        return assigned, "partitions assigned" if assigned else "waiting for assignment"

    install_common(app, max_body_bytes=trainer.settings.max_body_bytes,
                   checks={"database": database, "registry": registry, "consumer": consumer})
    install_database_unavailable_handler(app, retry_after_s=trainer.settings.retry_after_s, service="trainer")
    app.include_router(jobs_api.router)
    app.include_router(governance_api.router)
    return app
