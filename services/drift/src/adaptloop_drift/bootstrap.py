"""Builds every object of the drift service from its settings; nothing connects before `start`."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import asdict, dataclass

import uvicorn
from adaptloop_contracts import SetPaused, TopicNames
from adaptloop_kafka import EventProducer, ensure_topics, wait_for_broker
from fastapi import FastAPI

from adaptloop_drift.infra.checkpoints import CheckpointStore
from adaptloop_drift.api.routes import create_http_app
from adaptloop_drift.infra.policy_app import PolicyRuntime, build_policy_app, control_topic, internal_topics
from adaptloop_drift.infra.registry_decisions import DecisionSender
from adaptloop_drift.infra.signal_consumer import SignalConsumer
from adaptloop_drift.config import Settings
from adaptloop_drift.policy import DriftPolicy

log = logging.getLogger(__name__)


@dataclass
class DriftService:
    settings: Settings
    producer: EventProducer
    signals: SignalConsumer
    policy: PolicyRuntime
    http: FastAPI
    decisions: DecisionSender | None = None
    """Sends rollout verdicts to the registry; None when they are only reported (no token or disabled)."""

    def prepare(self) -> None:
        """Wait for the broker and create every topic the service reads or writes, with its partitions."""
        s = self.settings
        wait_for_broker(s.kafka)
        ensure_topics(s.kafka, {**s.topic_names.all_with_partitions(), **internal_topics(s.app_id)})

    def start_http(self) -> threading.Thread:
        config = uvicorn.Config(self.http, host=self.settings.host, port=self.settings.port, log_level="warning",
                                access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name="drift-http", daemon=True)
        thread.start()
        return thread

    def set_paused(self, adapter: str, paused: bool, actor: str) -> None:
        command = SetPaused(adapter=adapter, paused=paused, actor=actor)
        self.producer.produce_raw(control_topic(self.settings.app_id), command.to_json_bytes(), key=adapter.encode(),
                                  headers=None)
        if self.producer.flush(10.0):
            raise RuntimeError("pause command not acknowledged by the broker")


def build_service(settings: Settings) -> DriftService:
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
    service = DriftService(settings, producer, signals, policy, FastAPI(), decisions)

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
