"""What the page shows, gathered from the services' read APIs on every refresh.

The dashboard keeps no state: drift signals over time come from the drift service's bounded
series (`GET /v1/adapters/{name}/signals`), so a restarted dashboard shows the same history.
Every answer is parsed with its contract model (adaptloop_contracts); a service that does not
answer, or answers outside its contract, leaves its part empty and is named in `errors`.
"""

from __future__ import annotations

import time
from typing import TypeVar

import httpx
from adaptloop_contracts.dashboard_api import AdapterOverview, AliasMoveSeen, Overview, SwapsOverview
from adaptloop_contracts.drift_api import AdapterSignals
from adaptloop_contracts.inference_api import ServingState
from adaptloop_contracts.registry_answers import AdapterRecord, AliasHistoryEntry, VersionRecord
from adaptloop_contracts.registry_api import PendingApproval
from adaptloop_contracts.trainer_api import AdapterCosts, JobList
from pydantic import TypeAdapter, ValidationError

from adaptloop_dashboard.config import Settings

T = TypeVar("T")


class Fetcher:
    """GETs an answer parsed with its contract model; a failure is recorded by service and answers None."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.errors: dict[str, str] = {}

    def get(self, service: str, url: str, shape: type[T], *, missing_ok: bool = False) -> T | None:
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
            return TypeAdapter(shape).validate_json(resp.content)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "answer"
            self.errors.setdefault(service, f"{url} answered outside its contract ({where}: {first['msg']})")
            return None


def gather(settings: Settings, *, transport: httpx.BaseTransport | None = None) -> Overview:
    """One document for the page: per adapter its versions (with evaluation and suites), alias history and
    signal series and cost ledger totals; pending approvals, recent alias moves and inference swaps, training jobs."""
    registry, drift, trainer = settings.registry_url, settings.drift_url, settings.trainer_url
    with httpx.Client(timeout=settings.timeout_s, transport=transport) as client:
        fetch = Fetcher(client)
        listed = sorted(fetch.get("registry", registry + "/v1/adapters", list[AdapterRecord]) or [],
                        key=lambda a: a.name)
        adapters = []
        moves: list[AliasMoveSeen] = []
        for item in listed[: settings.max_adapters]:
            name = item.name
            history = fetch.get("registry", f"{registry}/v1/adapters/{name}/aliases/production/history",
                                list[AliasHistoryEntry]) or []
            moves += [AliasMoveSeen(**m.model_dump(exclude_unset=True), adapter=name) for m in history]
            adapters.append(AdapterOverview(
                adapter=item,
                versions=fetch.get("registry", f"{registry}/v1/adapters/{name}/versions", list[VersionRecord]) or [],
                signals=fetch.get("drift", f"{drift}/v1/adapters/{name}/signals", AdapterSignals, missing_ok=True),
                costs=fetch.get("trainer", f"{trainer}/v1/adapters/{name}/costs", AdapterCosts, missing_ok=True),
            ))
        serving = fetch.get("inference", settings.inference_url + "/v1/serving-state", ServingState)
        jobs = fetch.get("trainer", f"{trainer}/v1/jobs?limit={settings.jobs_shown}", JobList)
        moves.sort(key=lambda m: str(m.moved_at), reverse=True)
        swaps = serving.recent_swaps if serving is not None else []
        return Overview(
            generated_at=time.time(),
            adapters=adapters,
            adapters_total=len(listed),
            approvals=fetch.get("registry", registry + "/v1/approvals", list[PendingApproval]) or [],
            alias_moves=moves[: settings.moves_shown],
            swaps=SwapsOverview(replica=serving.replica if serving is not None else None,
                                recent=swaps[::-1][: settings.moves_shown]),
            jobs=(jobs.jobs if jobs is not None else [])[: settings.jobs_shown],
            errors=fetch.errors,
        )
