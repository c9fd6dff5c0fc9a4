"""Prometheus metrics of ingest's handlers and retention sweep; served at `/metrics` (the producer queue's
and consumer's gauges are defined next to them in `infra/kafka.py`)."""

from __future__ import annotations

from prometheus_client import Counter

SUBMITTED = Counter("adaptloop_ingest_events_accepted_total", "Events acknowledged by the broker", ["topic"])
REJECTED = Counter("adaptloop_ingest_events_rejected_total", "Submitted items that failed validation", ["topic"])
STORED = Counter("adaptloop_ingest_example_store_total", "Consumed events by what the example store did", ["outcome"])
EXPIRED = Counter("adaptloop_ingest_rows_expired_total", "Rows deleted by the retention sweep", ["table"])
