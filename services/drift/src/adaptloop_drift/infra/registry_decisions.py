"""Sends the judge's verdicts to the registry off the hot path: a queue, one worker thread, retries.

`POST /v1/adapters/{name}/rollout-decisions` with a `trainer` token. Network errors, 429 and 5xx
answers are retried with exponential backoff; a 409 means the aliases moved meanwhile (the verdict
is stale) and is logged and counted, never retried; other 4xx answers are refusals. The outcome of
every verdict goes back to the judge's state through `on_outcome`. A verdict still pending when the
service stops is in the checkpoint and is sent again after a restart (the registry deduplicates it
by `decision_id`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from adaptloop_drift import metrics
from adaptloop_drift.errors import DriftError
from adaptloop_drift.rollout.trials import Verdict

log = logging.getLogger(__name__)
Outcome = Callable[[str, str, str | None], None]
"""`(decision_id, outcome, detail)`."""


class TransientRegistryError(DriftError):
    """The registry could not be reached or answered 429/5xx: worth another try."""


class DecisionSender:
    """Delivers verdicts one at a time, in the order they were decided."""

    def __init__(self, *, base_url: str, token: str, timeout_s: float, attempts: int, on_outcome: Outcome,
                 max_backoff_s: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport,
                                  headers={"Authorization": f"Bearer {token}"})
        self._attempts = attempts
        self._max_backoff_s = max_backoff_s
        self._on_outcome = on_outcome
        self._queue: queue.Queue[Verdict] = queue.Queue()
        self._known: deque[str] = deque(maxlen=10_000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drift-rollout-decisions", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self._http.close()

    def submit(self, verdict: Verdict) -> None:
        """Queue a verdict unless it is already queued or was delivered by this process."""
        key = str(verdict.decision_id)
        if key in self._known:
            return
        self._known.append(key)
        self._queue.put(verdict)
        metrics.ROLLOUT_QUEUE.set(self._queue.qsize())

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                verdict = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            outcome, detail = self.deliver(verdict)
            if outcome == "failed" and self._stop.is_set():
                return  # still pending in the checkpoint: sent again after the restart
            metrics.ROLLOUT_QUEUE.set(self._queue.qsize())
            metrics.ROLLOUT_DELIVERIES.labels(verdict.action, outcome).inc()
            if outcome in ("applied", "duplicate"):
                log.info("rollout decision %s (%s v%d of %s): %s", verdict.decision_id, verdict.action,
                         verdict.version, verdict.adapter, outcome)
            else:
                log.warning("rollout decision %s (%s v%d of %s) %s: %s", verdict.decision_id, verdict.action,
                            verdict.version, verdict.adapter, outcome, detail)
            self._on_outcome(str(verdict.decision_id), outcome, detail)

    def deliver(self, verdict: Verdict) -> tuple[str, str | None]:
        """One verdict to the registry, retried on transient failures; returns (outcome, detail)."""
        retrying = Retrying(stop=stop_after_attempt(self._attempts),
                            wait=wait_exponential(multiplier=0.5, max=self._max_backoff_s),
                            retry=retry_if_exception_type(TransientRegistryError), reraise=True)
        try:
            response = retrying(self._post, verdict)
        except TransientRegistryError as exc:
            return "failed", str(exc)
        if response.status_code in (200, 201):
            duplicate = bool(response.json().get("duplicate")) if response.status_code == 200 else False
            return ("duplicate" if duplicate else "applied"), None
        detail = _detail(response)
        if response.status_code == 409:
            return "stale", detail
        return "refused", f"{response.status_code}: {detail}"

    def _post(self, verdict: Verdict) -> httpx.Response:
        if self._stop.is_set():
            raise TransientRegistryError("the service is stopping")
        body = verdict.request().model_dump(mode="json")
        try:
            response = self._http.post(f"/v1/adapters/{verdict.adapter}/rollout-decisions", json=body)
        except httpx.HTTPError as exc:
            raise TransientRegistryError(f"registry unreachable: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientRegistryError(f"registry answered {response.status_code}: {_detail(response)}")
        return response


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))[:500]
    except ValueError:
        return response.text[:500]
