"""Simulated users: ask through the `openai` client, rate through ingest, remember what served."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from adaptloop_scenarios.corpus import ScenarioPair
from adaptloop_scenarios.rating import POOR_BELOW, score
from openai import OpenAI

VERSION_HEADER = "x-adaptloop-adapter-version"
EVENT_HEADER = "x-adaptloop-event-id"


@dataclass(frozen=True)
class Served:
    """One answered request as the user saw it."""

    index: int
    at: float
    domain: str
    user: str
    version: str
    score: float
    latency_s: float
    rated: bool


class TrafficGenerator:
    """Sends questions from a list of pairs as several users, rates each answer."""

    def __init__(
        self,
        *,
        inference_url: str,
        ingest_url: str,
        ingest_token: str,
        adapter: str,
        users: int = 4,
        max_tokens: int = 48,
    ) -> None:
        self.adapter = adapter
        self.users = users
        self.max_tokens = max_tokens
        self._client = OpenAI(base_url=inference_url + "/v1", api_key="adaptloop-demo", max_retries=0, timeout=120)
        self._ingest = httpx.Client(
            base_url=ingest_url, timeout=30, headers={"Authorization": f"Bearer {ingest_token}"}
        )
        self._lock = threading.Lock()
        self.served: list[Served] = []
        self.failures: list[str] = []

    def close(self) -> None:
        self._ingest.close()
        self._client.close()

    def ask(self, index: int, pair: ScenarioPair) -> Served | None:
        user = f"user-{index % self.users}"
        # One trace per interaction, started by the user's side: the request and its rating share
        # it, so an alarm raised by the rating still leads back to the request that was rated.
        trace = {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"}
        started = time.monotonic()
        try:
            raw = self._client.chat.completions.with_raw_response.create(
                model=self.adapter,
                messages=[{"role": "user", "content": pair.prompt}],
                max_tokens=self.max_tokens,
                temperature=0.0,
                user=user,
                extra_headers=trace,
            )
        except Exception as exc:
            with self._lock:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            return None
        latency = time.monotonic() - started
        completion = raw.parse().choices[0].message.content or ""
        rating = score(completion, pair.answer)
        event_id = raw.headers.get(EVENT_HEADER)
        rated = False
        if event_id:
            feedback = {
                "model": self.adapter,
                "inference_event_id": event_id,
                "score": rating,
                "correction": pair.answer if rating < POOR_BELOW else None,
                "metadata": {"user": user, "domain": pair.domain},
            }
            try:
                rated = self._ingest.post("/v1/feedback", json=feedback, headers=trace).status_code == 202
            except httpx.HTTPError as exc:  # counted and reported with the demo's failures
                with self._lock:
                    self.failures.append(f"feedback to ingest failed: {type(exc).__name__}: {exc}")
        served = Served(
            index, time.time(), pair.domain, user, raw.headers.get(VERSION_HEADER, "?"), rating, latency, rated
        )
        with self._lock:
            self.served.append(served)
        return served

    def run(
        self,
        pairs: Sequence[ScenarioPair],
        *,
        start_index: int,
        stop: Callable[[], bool] = lambda: False,
        on_served: Callable[[Served], None] | None = None,
        max_rps: float | None = None,
    ) -> int:
        """Ask every pair (several users in parallel) until done or `stop()`; returns how many were asked.

        `max_rps` paces the users, leaving CPU to the rest of the loop on a small machine.
        """
        asked = 0
        with ThreadPoolExecutor(max_workers=self.users) as pool:
            for batch_start in range(0, len(pairs), self.users):
                if stop():
                    break
                batch_began = time.monotonic()
                batch = pairs[batch_start : batch_start + self.users]
                first = start_index + asked
                results = pool.map(lambda item, first=first: self.ask(first + item[0], item[1]), enumerate(batch))
                for served in results:
                    if served is not None and on_served is not None:
                        on_served(served)
                asked += len(batch)
                if max_rps:
                    pause = batch_began + len(batch) / max_rps - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
        return asked
