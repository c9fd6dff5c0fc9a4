"""Prometheus metrics of the registry (the outbox relay, the registrations' fast path); served at `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RELAYED = Counter("adaptloop_registry_outbox_published_total", "Outbox rows acknowledged by the broker")
RELAY_FAILED = Counter("adaptloop_registry_outbox_failed_total", "Outbox rows the broker did not acknowledge")
RELAY_ERRORS = Counter("adaptloop_registry_relay_errors_total", "Relay iterations that failed")
UNSENT = Gauge("adaptloop_registry_outbox_claimed", "Rows claimed by the last relay iteration")
FAST_REGISTRATIONS = Counter("adaptloop_registry_fast_registrations_total",
                             "Registrations answered before FastAPI's routing (api/fast_registration.py)")
