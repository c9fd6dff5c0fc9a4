"""Canned answers of the registry, trainer, drift and inference read APIs, shaped as the services answer.

The drift series come from the real monitors fed a seeded stream (an error rate going from 10%
to 90% on version 2 after 300 ratings, version 1 before it), so the page plots what the drift
service would serve, alarms included.
"""

from __future__ import annotations

from typing import Any

import httpx
from adaptloop_contracts.eval_suites import SuiteResult
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
                  "metrics": {"candidate_loss": 1.0, **({"suites": suites} if suites else {})}}
    return {"adapter": "support", "version": n, "status": status, "parent_version": n - 1 or None,
            "metrics": metrics, "evaluation": evaluation, "registered_by": "trainer",
            "registered_at": f"2026-03-01T10:0{n}:00+00:00", "suites": list(suites.values()) if suites else []}


def answers() -> dict[str, Any]:
    pending = _version(3, "pending_approval", SUITES)
    return {
        "/v1/adapters": [{"name": "support", "base_model": "tiny-llama", "promotion_policy": {"mode": "approval"},
                          "aliases": {"production": 2, "previous": 1}, "latest_version": 3}],
        "/v1/adapters/support/versions": [_version(1, "retired"), _version(2, "production"), pending],
        "/v1/adapters/support/aliases/production/history": [
            {"alias": "production", "from_version": None, "to_version": 1, "actor": "admin", "reason": "first",
             "moved_at": "2026-03-01T10:01:00+00:00"},
            {"alias": "production", "from_version": 1, "to_version": 2, "actor": "system:approval",
             "reason": "approved: better on refunds", "moved_at": "2026-03-01T10:02:30+00:00"}],
        "/v1/approvals": [{"adapter": "support", "version": 3, "production_version": 2, "base_model": "tiny-llama",
                           "evaluation": pending["evaluation"], "metrics": pending["metrics"],
                           "dataset_snapshot_id": "s3", "artifact_uri": "http://r/a", "registered_by": "trainer",
                           "registered_at": pending["registered_at"]}],
        "/v1/jobs": {"jobs": [
            {"job_id": "7d1c0e52-0000-4000-8000-000000000001", "adapter": "support", "kind": "train",
             "reason": "drift", "state": "running", "progress": 0.45, "candidate_version": None, "error": None,
             "updated_at": "2026-03-01T10:05:00+00:00"},
            {"job_id": "7d1c0e52-0000-4000-8000-000000000002", "adapter": "support", "kind": "train",
             "reason": "manual", "state": "succeeded", "progress": 1.0, "candidate_version": 3, "error": None,
             "updated_at": "2026-03-01T10:03:00+00:00"}]},
        "/v1/serving-state": {"replica": "inference-0", "recent_swaps": [
            {"adapter": "support", "alias": "production", "from_version": 1, "to_version": 2, "at": 1772359350.0}]},
        "/v1/adapters/support/signals": {"adapter": "support", "columns": list(COLUMNS), "versions": drift_series()},
    }


def services_transport(overrides: dict[str, Any] | None = None) -> httpx.MockTransport:
    """Every service on one mock network; a path answers its canned document, an override, or 404."""
    docs = {**answers(), **(overrides or {})}

    def handle(request: httpx.Request) -> httpx.Response:
        doc = docs.get(request.url.path)
        if isinstance(doc, httpx.Response):
            return doc
        return httpx.Response(404, json={"detail": "not found"}) if doc is None else httpx.Response(200, json=doc)

    return httpx.MockTransport(handle)
