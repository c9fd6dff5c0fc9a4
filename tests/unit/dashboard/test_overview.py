"""The overview document: what the page gets from the services, and how a missing service shows."""

from __future__ import annotations

import httpx
from adaptloop_dashboard.config import Settings
from adaptloop_dashboard.overview import gather


def _registry(request: httpx.Request) -> httpx.Response:
    docs = {
        "/v1/adapters": [{"name": "b", "aliases": {"production": 1}}, {"name": "a", "aliases": {}}],
        "/v1/adapters/a/versions": [], "/v1/adapters/b/versions": [{"version": 1, "status": "production"}],
        "/v1/adapters/a/aliases/production/history": [],
        "/v1/adapters/b/aliases/production/history": [
            {"from_version": None, "to_version": 1, "moved_at": "2026-03-01T10:00:00+00:00"}],
        "/v1/approvals": [{"adapter": "b", "version": 2, "production_version": 1}],
        "/v1/jobs": {"jobs": [{"job_id": "j1", "state": "running", "progress": 0.5}]},
        "/v1/adapters/b/signals": {"adapter": "b", "versions": [{"adapter_version": 1, "signals": {}}]},
        "/v1/adapters/b/costs": {"adapter": "b", "totals": {"retrains": 2, "training_seconds": 40.0}},
    }
    if request.url.host == "inference.test":
        return httpx.Response(503, text="warming up")
    doc = docs.get(request.url.path)
    return httpx.Response(404, json={"detail": "no"}) if doc is None else httpx.Response(200, json=doc)


def test_the_overview_gathers_every_part_and_names_what_did_not_answer() -> None:
    settings = Settings(inference_url="http://inference.test", max_adapters=5)
    doc = gather(settings, transport=httpx.MockTransport(_registry))

    assert [a["adapter"]["name"] for a in doc["adapters"]] == ["a", "b"]
    a, b = doc["adapters"]
    assert a["signals"] is None, "an adapter without drift state (404) has no series, and is no error"
    assert b["signals"]["versions"][0]["adapter_version"] == 1
    assert b["costs"]["totals"]["retrains"] == 2 and a["costs"] is None  # the trainer's cost ledger
    assert b["versions"] == [{"version": 1, "status": "production"}]
    assert doc["approvals"] == [{"adapter": "b", "version": 2, "production_version": 1}]
    assert doc["alias_moves"][0]["adapter"] == "b"
    assert doc["jobs"][0]["progress"] == 0.5
    assert doc["swaps"]["recent"] == []
    assert set(doc["errors"]) == {"inference"} and "503" in doc["errors"]["inference"]


def test_adapters_shown_are_bounded() -> None:
    doc = gather(Settings(max_adapters=1), transport=httpx.MockTransport(_registry))
    assert [a["adapter"]["name"] for a in doc["adapters"]] == ["a"]
    assert doc["adapters_total"] == 2


def test_unreachable_services_are_named() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    doc = gather(Settings(), transport=httpx.MockTransport(down))
    assert doc["adapters"] == [] and doc["jobs"] == []
    assert set(doc["errors"]) == {"registry", "trainer", "inference"}
    assert "unreachable" in doc["errors"]["registry"]
