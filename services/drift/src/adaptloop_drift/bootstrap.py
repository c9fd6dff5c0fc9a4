"""Builds every object of the drift service from its settings; nothing connects before `start`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict

from adaptloop_contracts import TopicNames
from adaptloop_kafka import EventProducer
from fastapi import FastAPI

from adaptloop_drift import metrics, novelty
from adaptloop_drift.api.routes import create_http_app
from adaptloop_drift.config import Settings
from adaptloop_drift.infra.policy_app import build_policy_app
from adaptloop_drift.infra.signal_processes import SignalSource, build_signal_consumer
from adaptloop_drift.infra.signal_supervisor import SignalProcesses
from adaptloop_drift.policy import DriftPolicy
from adaptloop_drift.runtime import DriftRuntime

log = logging.getLogger(__name__)


def build_runtime(settings: Settings) -> DriftRuntime:
    """Every object of the drift service; nothing connects before `main` starts them.

    The signal consumer runs in `settings.signal_process_count()` child processes (`SignalProcesses`), or
    for a count of 1 in a thread of this process with the decision sender next to it."""
    topics = TopicNames(settings.topic_prefix)
    producer = EventProducer(settings.kafka, topics=topics, client_id=settings.app_id)
    sending = settings.rollout_enabled and settings.registry_token is not None
    if not sending:
        log.warning("rollout verdicts are reported only, not sent to the registry (%s)",
                    "ADAPTLOOP_DRIFT_ROLLOUT_ENABLED is false" if not settings.rollout_enabled
                    else "no ADAPTLOOP_DRIFT_REGISTRY_TOKEN")
    metrics.NATIVE_NOVELTY.set(int(novelty.use_native(settings.native_novelty)))
    if settings.native_novelty and not novelty.NATIVE:
        log.warning("input novelty runs in Python: the C extension adaptloop_drift._novelty was not built with "
                    "this install (no C compiler?); the same values, several times slower (docs/drift.md)")
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # checkpoints and faust's data directory
    count = settings.signal_process_count()
    signals: SignalSource
    decisions = None
    if count > 1:
        signals = SignalProcesses(settings, count)
    else:
        signals, decisions = build_signal_consumer(settings, producer)
    policy = build_policy_app(
        app_id=settings.app_id,
        bootstrap=settings.kafka,
        topics=topics,
        producer=producer,
        policy=DriftPolicy(settings.policy_config()),
        data_dir=str(settings.data_dir / "faust"),
        rebalance_timeout_s=settings.rebalance_timeout_s,
    )
    service = DriftRuntime(settings, producer, signals, policy, FastAPI(), decisions)

    async def signals_ready() -> tuple[bool, str]:
        return await asyncio.to_thread(signals.readiness)  # child processes answer over their pipes

    async def policy_ready() -> tuple[bool, str]:
        ok = policy.ready()
        return ok, "policy agent assigned" if ok else "policy agent not assigned yet"

    service.http = create_http_app(
        tokens=settings.tokens,
        max_body_bytes=settings.max_body_bytes,
        checks={"signals": signals_ready, "policy": policy_ready},
        detector_state=signals.snapshot,
        policy_state=policy.states,
        rollout_state=signals.rollout_snapshot,
        rollout_settings={"sending": sending, **asdict(settings.rollout_config().rules),
                          "reference_events": settings.rollout_reference_events},
        set_paused=service.set_paused,
        signal_series=signals.series,
    )
    return service


def create_app(settings: Settings, *, runtime: DriftRuntime | None = None) -> FastAPI:
    """The HTTP app (health, detector and policy state, pause); `main` serves it next to the faust worker
    (`DriftRuntime.start_http`)."""
    return (runtime or build_runtime(settings)).http
