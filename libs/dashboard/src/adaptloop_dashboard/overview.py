"""What the page shows, gathered from the services' read APIs on every refresh.

The dashboard keeps no state: drift signals over time come from the drift service's bounded
series (`GET /v1/adapters/{name}/signals`), so a restarted dashboard shows the same history.
A service that does not answer leaves its part empty and is named in `errors`.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from adaptloop_dashboard.config import Settings


class Fetcher:
    """GETs JSON; a failure is recorded by service and answers None."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.errors: dict[str, str] = {}

    def get(self, service: str, url: str, *, missing_ok: bool = False) -> Any:
        try:
            resp = self.client.get(url)
        except httpx.HTTPError as exc:
            self.errors.setdefault(service, f"unreachable: {exc}")
            return None
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.status_code != 200:
            self.errors.setdefault(service, f"{url} answered {resp.status_code}: {resp.text[:200]}")
            return None
        try:
            return resp.json()
        except ValueError:
            self.errors.setdefault(service, f"{url} answered something other than JSON")
            return None


def items(doc: Any, key: str) -> list[dict[str, Any]]:
    """A list answer, or the list under `key` of an object answer; [] otherwise."""
    if isinstance(doc, dict):
        doc = doc.get(key)
    return [x for x in doc if isinstance(x, dict)] if isinstance(doc, list) else []


def gather(settings: Settings, *, transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """One document for the page: per adapter its versions (with evaluation and suites), alias history and
    signal series and cost ledger totals; pending approvals, recent alias moves and inference swaps, training jobs."""
    registry, drift = settings.registry_url, settings.drift_url
    with httpx.Client(timeout=settings.timeout_s, transport=transport) as client:
        fetch = Fetcher(client)
        listed = items(fetch.get("registry", registry + "/v1/adapters"), "adapters")
        listed.sort(key=lambda a: str(a.get("name")))
        adapters = []
        moves: list[dict[str, Any]] = []
        for item in listed[: settings.max_adapters]:
            name = item.get("name")
            history = items(fetch.get("registry", f"{registry}/v1/adapters/{name}/aliases/production/history"),
                            "history")
            moves += [dict(m, adapter=name) for m in history]
            adapters.append({
                "adapter": item,
                "versions": items(fetch.get("registry", f"{registry}/v1/adapters/{name}/versions"), "versions"),
                "signals": fetch.get("drift", f"{drift}/v1/adapters/{name}/signals", missing_ok=True),
                "costs": fetch.get("trainer", f"{settings.trainer_url}/v1/adapters/{name}/costs", missing_ok=True),
            })
        serving = fetch.get("inference", settings.inference_url + "/v1/serving-state")
        jobs = items(fetch.get("trainer", f"{settings.trainer_url}/v1/jobs?limit={settings.jobs_shown}"), "jobs")
        moves.sort(key=lambda m: str(m.get("moved_at")), reverse=True)
        swaps = items(serving, "recent_swaps")
        return {
            "generated_at": time.time(),
            "adapters": adapters,
            "adapters_total": len(listed),
            "approvals": items(fetch.get("registry", registry + "/v1/approvals"), "approvals"),
            "alias_moves": moves[: settings.moves_shown],
            "swaps": {"replica": serving.get("replica") if isinstance(serving, dict) else None,
                      "recent": swaps[::-1][: settings.moves_shown]},
            "jobs": jobs[: settings.jobs_shown],
            "errors": fetch.errors,
        }
