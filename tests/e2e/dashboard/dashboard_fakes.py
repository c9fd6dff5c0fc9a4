"""Canned answers of the registry, trainer, drift and inference read APIs, shaped as the services answer.

The drift series come from the real monitors fed a seeded stream (an error rate going from 10%
to 90% on version 2 after 300 ratings, version 1 before it), so the page plots what the drift
service would serve, alarms included.
"""

from __future__ import annotations

from typing import Any

import httpx
from adaptloop_contracts.drift_api import AdapterSignals
from adaptloop_contracts.eval_suites import SuiteResult
from adaptloop_contracts.inference_api import ServingState
from adaptloop_contracts.registry_answers import AdapterRecord, AliasHistoryEntry, VersionRecord
from adaptloop_contracts.registry_api import PendingApproval
from adaptloop_contracts.trainer_api import JobList
from adaptloop_drift.monitor import AdapterMonitors, MonitorConfig
from adaptloop_drift.series import COLUMNS
from adaptloop_drift.synthetic import make_feedback, make_log

SUITES = {"refunds": SuiteResult(suite="refunds", version=1, sha256="ab" * 32, metric="exact_match", items=50,
                                  candidate=0.82, baseline=0.74, tolerance=0.02, passed=True,
                                  baseline_name="production").model_dump()}


def drift_series() -> list[dict[str, Any]]:
    monitors = AdapterMonitors(MonitorConfig())
    for i in range(900):
        version = 1 if i < 300 else 2
        monitors.observe_log("support", make_log("support", i, version=version))
        error = (i % 10 == 0) if i < 600 else (i % 10 != 0)
        monitors.observe_feedback("support", make_feedback("support", i, error))
    return monitors.series("support")


def _version(n: int, status: str, suites: dict[str, Any] | None = None) -> dict[str, Any]:
    metrics = {"eval_loss": 1.23 - n / 10, "train_loss": 0.9}
    evaluation = {"passed": True, "verdict": "candidate loss 1.0 below production 1.1",
                  "metrics": {"candidate_loss": 1.0, **({"suites": suites} if suites else {})},
                  "recorded_by": "trainer", "recorded_at": f"2026-03-01T10:0{n}:00+00:00"}
    digest, parent = f"{n:x}" * 64, n - 1 or None
    return {"adapter": "support", "version": n, "status": status, "weights_sha256": digest, "weights_size": 65536,
            "config_sha256": digest, "sha256": digest, "artifact_uri": f"http://r/a/{n}", "config_uri": f"http://r/c/{n}",
            "base_model": "tiny-llama", "dataset_snapshot_id": f"s{n}", "dataset_sha256": digest,
            "training_config": {}, "seed": 0, "code_revision": None, "parent_version": parent, "metrics": metrics,
            "evaluation": evaluation, "suites": list(suites.values()) if suites else [],
            "lineage": {"base_model": "tiny-llama", "parent_version": parent, "dataset_snapshot_id": f"s{n}",
                        "dataset_sha256": digest, "code_revision": None, "seed": 0},
            "served_requests": None, "served_tokens": None, "load_failures": 0, "request_id": None,
            "registered_by": "trainer", "registered_at": f"2026-03-01T10:0{n}:00+00:00", "retired_by": None,
            "retired_at": None, "erasure_pending": False, "erasures": []}


def _job(n: int, **fields: Any) -> dict[str, Any]:
    return {"job_id": f"7d1c0e52-0000-4000-8000-00000000000{n}", "request_id": f"request-{n}", "adapter": "support",
            "kind": "train", "base_model": "tiny-llama", "training_config": {}, "snapshot_id": None,
            "snapshot_sha256": None, "metrics": None, "evaluation": None, "report": None, "error": None,
            "cancel_requested": False, "attempts": 1, "created_at": "2026-03-01T10:00:00+00:00", **fields}


def answers() -> dict[str, Any]:
    pending = _version(3, "pending_approval", SUITES)
    return {
        "/v1/adapters": [{"name": "support", "base_model": "tiny-llama", "training_config": {},
                          "promotion_policy": {"mode": "approval", "canary_weight": 0.1, "canary_min_requests": 50},
                          "aliases": {"production": 2, "previous": 1},
                          "latest_version": 3, "created_by": "admin", "created_at": "2026-03-01T10:00:00+00:00"}],
        "/v1/adapters/support/versions": [_version(1, "retired"), _version(2, "production"), pending],
        "/v1/adapters/support/aliases/production/history": [
            {"alias": "production", "from_version": None, "to_version": 1, "weight": None, "actor": "admin",
             "reason": "first", "event_id": "e1", "moved_at": "2026-03-01T10:01:00+00:00", "details": {}},
            {"alias": "production", "from_version": 1, "to_version": 2, "weight": None, "actor": "system:approval",
             "reason": "approved: better on refunds", "event_id": "e2", "moved_at": "2026-03-01T10:02:30+00:00",
             "details": {}}],
        "/v1/approvals": [{"adapter": "support", "version": 3, "production_version": 2, "base_model": "tiny-llama",
                           "evaluation": pending["evaluation"], "metrics": pending["metrics"],
                           "dataset_snapshot_id": "s3", "artifact_uri": "http://r/a", "registered_by": "trainer",
                           "registered_at": pending["registered_at"]}],
        "/v1/jobs": {"jobs": [
            _job(1, reason="drift", state="running", progress=0.45, candidate_version=None,
                 updated_at="2026-03-01T10:05:00+00:00"),
            _job(2, reason="manual", state="succeeded", progress=1.0, candidate_version=3,
                 updated_at="2026-03-01T10:03:00+00:00")]},
        "/v1/serving-state": {
            "replica": "inference-0", "base_model": "tiny-llama", "ready": True, "events_subscribed": True,
            "last_sync_at": 1772359350.0, "last_sync_error": None,
            "routes": {"support": {"production": {"version": 2, "weight": None, "unavailable": None}}},
            "loaded": [{"version": "support@2", "lora_id": 2, "in_flight": 0}], "engine_loras": ["support@2"],
            "load_failures": [], "logs": {}, "serving_reports": {}, "recent_swaps": [
            {"adapter": "support", "alias": "production", "from_version": 1, "to_version": 2, "at": 1772359350.0}]},
        "/v1/adapters/support/signals": {"adapter": "support", "columns": list(COLUMNS), "versions": drift_series()},
    }


SHAPES: dict[str, Any] = {
    "/v1/adapters": list[AdapterRecord],
    "/v1/adapters/support/versions": list[VersionRecord],
    "/v1/adapters/support/aliases/production/history": list[AliasHistoryEntry],
    "/v1/approvals": list[PendingApproval],
    "/v1/jobs": JobList,
    "/v1/serving-state": ServingState,
    "/v1/adapters/support/signals": AdapterSignals,
}
"""The contract model each canned answer is read with (as the dashboard reads it)."""


def services_transport(overrides: dict[str, Any] | None = None) -> httpx.MockTransport:
    """Every service on one mock network; a path answers its canned document, an override, or 404."""
    docs = {**answers(), **(overrides or {})}

    def handle(request: httpx.Request) -> httpx.Response:
        doc = docs.get(request.url.path)
        if isinstance(doc, httpx.Response):
            return doc
        return httpx.Response(404, json={"detail": "not found"}) if doc is None else httpx.Response(200, json=doc)

    return httpx.MockTransport(handle)
