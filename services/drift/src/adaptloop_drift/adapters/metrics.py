"""Prometheus metrics of the drift service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS = Counter("adaptloop_drift_events_total", "Events consumed by the detectors", ["topic"])
EVENTS_PER_SECOND = Gauge("adaptloop_drift_events_per_second", "Events per second over the last checkpoint interval")
LAG = Gauge("adaptloop_drift_consumer_lag", "Messages not yet processed", ["topic", "partition"])
ALARMS = Counter("adaptloop_drift_alarms_total", "drift.detected events published", ["signal", "severity"])
RETRAINS = Counter("adaptloop_drift_retrain_requested_total", "retrain.requested events published")
DEAD_LETTERED = Counter("adaptloop_drift_dead_lettered_total", "Messages sent to a dead-letter topic", ["topic"])
UNMONITORED = Counter("adaptloop_drift_unmonitored_total", "Valid events not monitored, by reason", ["reason"])
MONITORED_VERSIONS = Gauge("adaptloop_drift_monitored_versions", "Adapter versions with detector state")
CHECKPOINT_BYTES = Gauge("adaptloop_drift_checkpoint_bytes", "Size of the last checkpoint of all partitions")
