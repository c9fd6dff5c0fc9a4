"""What the page shows, gathered from the services' read APIs; drift signals are sampled over time."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

import httpx

from adaptloop_dashboard.config import Settings

log = logging.getLogger(__name__)


def numeric_leaves(value: Any, prefix: str = "") -> dict[str, float]:
    """Flatten a JSON document to `path -> number` (booleans excluded): the plottable signals."""
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            out.update(numeric_leaves(inner, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = float(value)
    return out


class DriftHistory:
    """A ring buffer of drift-state samples per adapter, filled by a background sampler."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._samples: dict[str, deque[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="drift-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        with httpx.Client(base_url=self._settings.drift_url, timeout=5) as client:
            while not self._stop.is_set():
                try:
                    self.record(client.get("/v1/state").json(), time.time())
                except (httpx.HTTPError, ValueError) as exc:
                    log.info("drift state not sampled: %s", exc)
                self._stop.wait(self._settings.sample_interval_s)

    def record(self, state: dict[str, Any], at: float) -> None:
        adapters = state.get("adapters", []) if isinstance(state, dict) else []
        if isinstance(adapters, dict):
            adapters = [{"adapter": name, **entry} for name, entry in adapters.items()]
        with self._lock:
            for entry in adapters:
                name = f"{entry.get('adapter')} v{entry.get('adapter_version') or 'base'}"
                ring = self._samples.setdefault(name, deque(maxlen=self._settings.history_samples))
                ring.append({"at": at, "values": numeric_leaves(entry)})

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {name: list(ring) for name, ring in self._samples.items()}


def _get(client: httpx.Client, url: str) -> Any:
    try:
        resp = client.get(url)
    except httpx.HTTPError as exc:
        return {"error": f"unreachable: {exc}"}
    if resp.status_code != 200:
        return {"error": f"{resp.status_code}: {resp.text[:200]}"}
    return resp.json()


def gather(settings: Settings, history: DriftHistory, *,
           transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """One document for the page: adapters with versions and alias history, pending approvals, the plan, jobs,
    drift."""
    with httpx.Client(timeout=5, transport=transport) as client:
        adapters_doc = _get(client, settings.registry_url + "/v1/adapters")
        items = adapters_doc if isinstance(adapters_doc, list) else adapters_doc.get("adapters", [])
        adapters = []
        for item in items if isinstance(items, list) else []:
            name = item.get("name")
            versions = _get(client, f"{settings.registry_url}/v1/adapters/{name}/versions")
            history_doc = _get(client, f"{settings.registry_url}/v1/adapters/{name}/aliases/production/history")
            adapters.append(
                {
                    "adapter": item,
                    "versions": versions if isinstance(versions, list) else versions.get("versions", versions),
                    "production_history": (
                        history_doc if isinstance(history_doc, list) else history_doc.get("history", history_doc)
                    ),
                }
            )
        jobs = _get(client, settings.trainer_url + "/v1/jobs")
        return {
            "generated_at": time.time(),
            "adapters": adapters,
            "approvals": _get(client, settings.registry_url + "/v1/approvals"),
            "serving_plan": _get(client, settings.registry_url + "/v1/serving-plan"),
            "jobs": jobs if isinstance(jobs, list) else jobs.get("jobs", jobs),
            "drift": _get(client, settings.drift_url + "/v1/state"),
            "drift_history": history.snapshot(),
        }
