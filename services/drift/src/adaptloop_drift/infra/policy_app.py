"""The faust app: the policy agent over drift.detected, training.events, registry.events and pause commands.

Policy state lives in the faust table `policy` (changelog topic `<app id>-policy-changelog`),
so it survives restarts and moves with its partition on a rebalance. Every input is keyed by
adapter name, so one adapter's detections, training events and commands meet in one partition.
faust drives the loop and commits; what does not decode goes to `TopicNames.dlq()` of its topic
(`<app id>.control.dlq` for a command) through the shared `adaptloop_kafka.DeadLetters`, and a
redelivered event is dropped by the policy state's deduplication window (`adaptloop_kafka.remember`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import faust
from adaptloop_contracts import (
    DriftDetected,
    InvalidEvent,
    RegistryEvent,
    SetPaused,
    TopicNames,
    TrainingEvent,
    adapter_of,
)
from adaptloop_contracts.drift import DRIFT_DETECTED
from adaptloop_contracts.registry import REGISTRY_EVENTS
from adaptloop_contracts.training import TRAINING_EVENTS
from adaptloop_kafka import (
    DeadLetterFailed,
    DeadLetters,
    EventProducer,
    KafkaConnection,
    SourceRecord,
    context_from_headers,
    trace_headers,
)
from opentelemetry import trace

from adaptloop_drift import metrics
from adaptloop_drift.infra.faust_credentials import faust_credentials
from adaptloop_drift.policy import AdapterPolicyState, DriftPolicy

log = logging.getLogger(__name__)
tracer = trace.get_tracer("adaptloop.drift")
POLICY_TABLE = "policy"
PARTITIONS = 4


def control_topic(app_id: str) -> str:
    """Internal topic carrying pause/resume commands, keyed by adapter."""
    return f"{app_id}.control"


def internal_topics(app_id: str) -> dict[str, int]:
    """Topics the drift service needs beyond the contract's; created before faust starts."""
    return {f"{app_id}-{POLICY_TABLE}-changelog": PARTITIONS, control_topic(app_id): PARTITIONS}


@dataclass
class PolicyRuntime:
    app: faust.App
    table: Any

    def states(self) -> dict[str, dict[str, Any]]:
        return {k.decode() if isinstance(k, bytes) else str(k): json.loads(v)
                for k, v in list(self.table.data.items())}

    def ready(self) -> bool:
        try:
            return bool(self.app.consumer.assignment()) and not self.app.rebalancing
        except Exception:
            return False


def _broker_url(bootstrap: str) -> str:
    return ";".join(f"kafka://{h.strip()}" for h in bootstrap.split(",") if h.strip())


def build_policy_app(
    *,
    app_id: str,
    bootstrap: KafkaConnection,
    topics: TopicNames,
    producer: EventProducer,
    policy: DriftPolicy,
    data_dir: str,
    rebalance_timeout_s: float,
) -> PolicyRuntime:
    app = faust.App(
        app_id,
        broker=_broker_url(bootstrap.bootstrap),
        broker_credentials=faust_credentials(bootstrap),
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_allow_declare=False,
        topic_disable_leader=True,
        topic_partitions=PARTITIONS,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=rebalance_timeout_s,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=rebalance_timeout_s,
        datadir=data_dir,
        store="memory://",
    )
    table = app.Table(POLICY_TABLE, default=None, key_type=bytes, value_type=bytes, partitions=PARTITIONS)
    names = {topics(DRIFT_DETECTED): DRIFT_DETECTED, topics(TRAINING_EVENTS): TRAINING_EVENTS,
             topics(REGISTRY_EVENTS): REGISTRY_EVENTS, control_topic(app_id): "control"}
    source = app.topic(*names, key_type=bytes, value_type=bytes)

    dead_letters = DeadLetters(producer, consumer=app_id, topics=topics)

    def dead_letter(message: Any, reason: str) -> None:
        record = SourceRecord(message.topic, message.partition, message.offset, message.key, message.value,
                              list(message.headers or []))
        try:
            dead_letters.write(record, reason)
        except DeadLetterFailed as exc:  # faust commits the offset regardless; say what was not kept
            log.error("%s: %s", exc, reason[:200])
            return
        metrics.DEAD_LETTERED.labels(message.topic).inc()
        log.warning("dead-lettered %s[%s]@%s: %s", message.topic, message.partition, message.offset, reason[:200])

    def handle(message: Any) -> None:
        base = names[message.topic]
        try:
            if base == "control":
                command = SetPaused.from_json_bytes(message.value)
                adapter = command.adapter
            elif base == DRIFT_DETECTED:
                event: Any = DriftDetected.from_json_bytes(message.value)
                adapter = adapter_of(event.model)
            elif base == TRAINING_EVENTS:
                event = TrainingEvent.from_json_bytes(message.value)
                adapter = adapter_of(event.model)
            else:
                event = RegistryEvent.from_json_bytes(message.value)
                adapter = adapter_of(event.model)
        except InvalidEvent as exc:
            dead_letter(message, f"invalid control command: {exc.reason}" if base == "control" else exc.reason)
            return
        key = adapter.encode()
        raw = table.get(key)
        before = json.loads(raw) if raw is not None else None
        state = AdapterPolicyState.from_json(before)
        if base == "control":
            policy.set_paused(state, command.paused)
            log.info("adapter %s %s (actor %s)", adapter, "paused" if command.paused else "resumed", command.actor)
        elif base == DRIFT_DETECTED:
            held_before = state.held_back_total
            request = policy.on_drift_detected(state, event)
            if state.held_back_total != held_before and state.held_back is not None:
                reason = str(state.held_back["reason"])
                metrics.RETRAINS_HELD_BACK.labels("retrains" if reason.startswith("retrain") else "seconds").inc()
                log.warning("retrain for %s held back: %s", adapter, reason)
            if request is not None:
                ctx = context_from_headers(message.headers)
                with tracer.start_as_current_span("retrain.requested", context=ctx) as span:
                    span.set_attribute("adaptloop.adapter", adapter)
                    producer.publish_sync("retrain.requested", request, key=adapter, headers=trace_headers())
                metrics.RETRAINS.inc()
                log.info("retrain requested for %s: %s (drift %s)", adapter, request.event_id,
                         [str(i) for i in request.drift_event_ids])
        elif base == TRAINING_EVENTS:
            policy.on_training_event(state, event)
        else:
            policy.on_registry_event(state, event)
        after = state.to_json()
        if after != before:  # a redelivered event leaves the state, and so the changelog, untouched
            table[key] = json.dumps(after).encode()

    @app.agent(source, name="policy")
    async def policy_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            handle(event.message)

    return PolicyRuntime(app, table)
