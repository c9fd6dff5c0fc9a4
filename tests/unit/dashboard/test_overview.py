"""The dashboard keeps plottable drift history per adapter version and lists versions waiting for approval."""

from __future__ import annotations

import httpx
from adaptloop_dashboard.config import Settings
from adaptloop_dashboard.overview import DriftHistory, gather, numeric_leaves


def test_numeric_leaves_flatten_numbers_only() -> None:
    doc = {"a": 1, "b": {"c": 2.5, "d": True, "e": None, "f": "x"}}
    assert numeric_leaves(doc) == {"a": 1.0, "b.c": 2.5}


def test_history_is_kept_per_adapter_version_and_bounded() -> None:
    history = DriftHistory(Settings(history_samples=3))
    for i in range(5):
        history.record({"adapters": [{"adapter": "support", "adapter_version": 2, "logs": i,
                                      "detectors": {"input_novelty": {"alarms": 0}}}]}, at=float(i))
    samples = history.snapshot()["support v2"]
    assert [s["at"] for s in samples] == [2.0, 3.0, 4.0]
    assert samples[-1]["values"]["logs"] == 4.0
    assert samples[-1]["values"]["detectors.input_novelty.alarms"] == 0.0


def test_the_overview_lists_pending_approvals() -> None:
    pending = [{"adapter": "support", "version": 3, "production_version": 2, "evaluation": {"passed": True}}]

    def registry(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/approvals":
            return httpx.Response(200, json=pending)
        if request.url.path == "/v1/adapters":
            return httpx.Response(200, json=[])
        return httpx.Response(200, json={})

    settings = Settings()
    doc = gather(settings, DriftHistory(settings), transport=httpx.MockTransport(registry))

    assert doc["approvals"] == pending
