"""Handlers: one typed function per incoming event kind; they know nothing of Kafka or HTTP."""

from __future__ import annotations

import re
import uuid

from adaptloop_contracts import DriftDetected, adapter_of

from adaptloop_drift.errors import UnmonitoredEvent
from adaptloop_drift.events import AnyLog, AnyRating
from adaptloop_drift.monitor import AdapterMonitors, DriftObserved

DRIFT_NAMESPACE = uuid.UUID("0b6a3f5e-8d2c-4e71-b1f4-5d9e2a7c3b10")
_ADAPTER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class BaseModelTraffic(Exception):
    """A log of the base model serving without an adapter: counted, not monitored."""


def drift_event_id(obs: DriftObserved) -> uuid.UUID:
    """Deterministic: replaying the same input after a restart re-raises the same event id."""
    return uuid.uuid5(DRIFT_NAMESPACE, f"{obs.adapter}|{obs.adapter_version}|{obs.signal}|{obs.trigger_event_id}")


_ADAPTERS: dict[str, str] = {}
"""Model names already seen naming an adapter -> that adapter (the same few names come with every event)."""
_ADAPTERS_MAX = 4096


def _adapter(model: str) -> str:
    name = _ADAPTERS.get(model)
    if name is not None:
        return name
    name = adapter_of(model)
    if not _ADAPTER_NAME.match(name):
        raise UnmonitoredEvent(f"model {model!r} does not name an adapter (lower-case letters, digits, - and _)")
    if len(_ADAPTERS) >= _ADAPTERS_MAX:
        _ADAPTERS.clear()
    _ADAPTERS[model] = name
    return name


def _admit(adapter: str, monitors: AdapterMonitors, max_adapters: int) -> None:
    if not monitors.knows(adapter) and len(monitors.adapters) >= max_adapters:
        raise UnmonitoredEvent(f"adapter limit of {max_adapters} per partition reached; {adapter!r} not monitored")


def to_drift_detected(obs: DriftObserved, trigger: AnyLog | AnyRating) -> DriftDetected:
    return DriftDetected(
        event_id=drift_event_id(obs),
        occurred_at=trigger.occurred_at,
        model=obs.adapter,
        adapter_version=obs.adapter_version,
        signal=str(obs.signal),
        detector=obs.detector,
        trigger_event_id=obs.trigger_event_id,
        observations=obs.observations,
        evidence=obs.evidence,
        severity=obs.severity,
    )


def handle_inference_log(log: AnyLog, *, monitors: AdapterMonitors, max_adapters: int) -> list[DriftDetected]:
    """Update the serving version's signals; base-model traffic raises `BaseModelTraffic`."""
    if log.adapter_version is None and log.model == log.base_model:
        raise BaseModelTraffic(log.model)
    adapter = _adapter(log.model)
    _admit(adapter, monitors, max_adapters)
    return [to_drift_detected(o, log) for o in monitors.observe_log(adapter, log)]


def handle_feedback(fb: AnyRating, *, monitors: AdapterMonitors, max_adapters: int) -> list[DriftDetected]:
    """Update the quality signals (a rating may arrive before its adapter's first log)."""
    adapter = _adapter(fb.model)
    _admit(adapter, monitors, max_adapters)
    return [to_drift_detected(o, fb) for o in monitors.observe_feedback(adapter, fb)]
