"""Builds every object of the drift service from its settings; nothing connects before `start`."""

from __future__ import annotations

import logging
from dataclasses import asdict

from adaptloop_contracts import TopicNames
from adaptloop_kafka import EventProducer
from fastapi import FastAPI

from adaptloop_drift.api.routes import create_http_app
from adaptloop_drift.config import Settings
from adaptloop_drift.infra.checkpoints import CheckpointStore
from adaptloop_drift.infra.policy_app import build_policy_app
from adaptloop_drift.infra.registry_decisions import DecisionSender
from adaptloop_drift.infra.signal_consumer import SignalConsumer
from adaptloop_drift.policy import DriftPolicy
from adaptloop_drift.runtime import DriftRuntime

log = logging.getLogger(__name__)


def build_runtime(settings: Settings) -> DriftRuntime:
    """Every object of the drift service; nothing connects before `main` starts them."""
    topics = TopicNames(settings.topic_prefix)
    producer = EventProducer(settings.kafka, topics=topics, client_id=settings.app_id)
    store = CheckpointStore(settings.data_dir, settings.app_id)
    decisions = None
    if settings.rollout_enabled and settings.registry_token is not None:
        decisions = DecisionSender(
            base_url=settings.registry_url, token=settings.registry_token.get_secret_value(),
            timeout_s=settings.registry_timeout_s, attempts=settings.rollout_delivery_attempts,
            on_outcome=lambda decision_id, outcome, detail: signals.record_delivery(decision_id, outcome, detail),
        )
    else:
        log.warning("rollout verdicts are reported only, not sent to the registry (%s)",
                    "ADAPTLOOP_DRIFT_ROLLOUT_ENABLED is false" if not settings.rollout_enabled
                    else "no ADAPTLOOP_DRIFT_REGISTRY_TOKEN")
    signals = SignalConsumer(
        bootstrap=settings.kafka,
        topics=topics,
        group_id=f"{settings.app_id}-signals",
        producer=producer,
        store=store,
        monitor_config=settings.monitor_config(),
        max_adapters=settings.max_adapters,
        checkpoint_interval_s=settings.checkpoint_interval_s,
        rollout_config=settings.rollout_config(),
        decisions=decisions,
        stall_after_s=settings.stall_after_s,
    )
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
        if signals.failure is not None:
            return False, f"signal consumer failed: {signals.failure}"
        if not (signals.assigned.is_set() and signals.alive):
            return False, "waiting for partition assignment"
        stalls = signals.stalls()
        if stalls:
            return False, "consumer not advancing with lag: " + "; ".join(stalls)
        return True, "partitions assigned, advancing"

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
        rollout_settings={"sending": decisions is not None, **asdict(settings.rollout_config().rules),
                          "reference_events": settings.rollout_reference_events},
        set_paused=service.set_paused,
        signal_series=signals.series,
    )
    return service


def create_app(settings: Settings, *, runtime: DriftRuntime | None = None) -> FastAPI:
    """The HTTP app (health, detector and policy state, pause); `main` serves it next to the faust worker
    (`DriftRuntime.start_http`)."""
    return (runtime or build_runtime(settings)).http
