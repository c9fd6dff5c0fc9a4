"""Prometheus metrics of the inference service (all prefixed `adaptloop_inference_`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "adaptloop_inference_requests_total", "Requests answered, by endpoint and outcome", ["endpoint", "status"]
)
REQUEST_LATENCY = Histogram(
    "adaptloop_inference_request_seconds", "Time from admission to the last token", ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TOKENS = Counter("adaptloop_inference_tokens_total", "Prompt and completion tokens", ["kind"])
VERSION_REQUESTS = Counter(
    "adaptloop_inference_version_requests_total", "Requests served per adapter version ('base' for none)",
    ["adapter", "version"],
)
IN_FLIGHT = Gauge("adaptloop_inference_in_flight", "Requests admitted and not finished")
SWAPS = Counter("adaptloop_inference_swaps_total", "Alias switches applied to the routing table", ["adapter", "alias"])
SWAP_SECONDS = Histogram(
    "adaptloop_inference_swap_seconds", "From the registry event (or sync start) to the routing switch",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LOADS = Counter("adaptloop_inference_adapter_loads_total", "Adapter versions loaded into the engine")
UNLOADS = Counter("adaptloop_inference_adapter_unloads_total", "Adapter versions removed from the engine")
LOAD_FAILURES = Counter(
    "adaptloop_inference_adapter_load_failures_total", "Adapter versions refused or failed to load", ["kind"]
)
LOADED_VERSIONS = Gauge("adaptloop_inference_loaded_versions", "Adapter versions held by the engine")
PRELOADED_VERSIONS = Gauge(
    "adaptloop_inference_preloaded_versions", "Registered versions loaded ahead of a promotion (standby slots used)"
)
SYNCS = Counter(
    "adaptloop_inference_plan_syncs_total",
    "Serving-plan synchronisations: ok (plan fetched), from_event (announcement applied, no fetch), failed",
    ["outcome"],
)
PLAN_REFRESHES = Counter(
    "adaptloop_inference_unknown_model_refreshes_total",
    "Requests for an unknown name that a fresh serving-plan sync made servable",
)
LOG_QUEUE_DEPTH = Gauge("adaptloop_inference_log_queue_depth", "Inference logs waiting to be produced")
LOGS_DELIVERED = Counter("adaptloop_inference_logs_delivered_total", "Inference logs acknowledged by the broker")
LOGS_DROPPED = Counter(
    "adaptloop_inference_logs_dropped_total", "Inference logs given up on (queue full, delivery failed)", ["reason"]
)
SERVING_REPORTS = Counter(
    "adaptloop_inference_serving_reports_total",
    "Serving reports sent to the registry, by outcome (accepted, duplicate, retried, dropped)", ["outcome"],
)
SERVING_REPORTED_REQUESTS = Counter(
    "adaptloop_inference_serving_reported_requests_total", "Served requests the registry acknowledged in reports",
)
SERVING_UNREPORTED = Gauge(
    "adaptloop_inference_serving_unreported_requests", "Served requests counted and not yet acknowledged",
)
SERVING_PENDING_REPORTS = Gauge(
    "adaptloop_inference_serving_pending_reports", "Sealed serving reports waiting for the registry",
)
