"""Seeded synthetic streams of contract events, for tests, benchmarks and tuning the detectors offline."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from adaptloop_contracts import Event, InferenceFeedback, InferenceLog, RegistryEvent

_T0 = datetime(2026, 1, 1, tzinfo=UTC)
_NS = uuid.UUID("3a1f7c2e-5b4d-4e6f-8a9b-0c1d2e3f4a5b")


def event_id(seed: int, kind: str, i: int) -> uuid.UUID:
    return uuid.uuid5(_NS, f"{seed}|{kind}|{i}")


def abrupt_error_probabilities(*, segment: int = 250, changes: int = 100, low: float = 0.2,
                               high: float = 0.8) -> Iterator[float]:
    """MOA-style abrupt generator: the error probability alternates every `segment` events."""
    for s in range(changes + 1):
        p = low if s % 2 == 0 else high
        for _ in range(segment):
            yield p


def errors(probabilities: Iterator[float] | list[float], seed: int) -> list[int]:
    rng = random.Random(seed)
    return [1 if rng.random() < p else 0 for p in probabilities]


def make_log(adapter: str, i: int, *, seed: int = 0, version: int | None = 1, prompt: str = "How do I reset it?",
             completion: str = "Hold the button.", rng: random.Random | None = None) -> InferenceLog:
    r = rng or random.Random(seed * 1_000_003 + i)
    return InferenceLog(
        event_id=event_id(seed, "log", i), occurred_at=_T0 + timedelta(seconds=i), model=adapter,
        request_id=f"req-{seed}-{i}", adapter_version=version, base_model="tiny-llama", prompt=prompt,
        completion=completion, prompt_tokens=len(prompt.split()), completion_tokens=int(r.gauss(40, 5)) if r else 40,
        latency_ms=abs(r.lognormvariate(4.5, 0.3)), mean_logprob=-abs(r.gauss(1.2, 0.2)),
    )


def make_feedback(adapter: str, i: int, error: int, *, seed: int = 0, version: int | None = None) -> InferenceFeedback:
    return InferenceFeedback(
        event_id=event_id(seed, "fb", i), occurred_at=_T0 + timedelta(seconds=i), model=adapter,
        inference_event_id=event_id(seed, "log", i), score=-1.0 if error else 1.0, correction=None,
        metadata={} if version is None else {"adapter_version": version},
    )


ROLLOUT_T0 = datetime(2026, 3, 1, tzinfo=UTC)
_ROLLOUT_NS = uuid.UUID("5d0c9a2e-1b7f-4c3a-9e6d-2f8b4a1c7e30")


@dataclass
class RatedTraffic:
    """One adapter's events in time order, for the rollout judge: requests of versions (logged, then
    rated around a mean), canary periods and alias moves; one second per event."""

    adapter: str
    seed: int = 0
    sd: float = 0.5
    events: list[Event] = field(default_factory=list)
    clock: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _tick(self) -> datetime:
        self.clock += 1
        return ROLLOUT_T0 + timedelta(seconds=self.clock)

    def score(self, mean: float) -> float:
        return max(-1.0, min(1.0, self.rng.gauss(mean, self.sd)))

    def serve(self, version: int | None, mean: float, *, rated: bool = True) -> InferenceLog:
        """One request served by `version` and (by default) rated around `mean`."""
        at = self._tick()
        log = InferenceLog(
            event_id=uuid.uuid5(_ROLLOUT_NS, f"{self.adapter}|{self.seed}|log|{self.clock}"), occurred_at=at,
            model=self.adapter, request_id=f"r{self.clock}", adapter_version=version, base_model="tiny-llama",
            prompt="what is the settlement cycle?", completion="two days", prompt_tokens=6, completion_tokens=2,
            latency_ms=40.0, mean_logprob=-1.0,
        )
        self.events.append(log)
        if rated:
            self.events.append(InferenceFeedback(
                event_id=uuid.uuid5(_ROLLOUT_NS, f"{self.adapter}|{self.seed}|fb|{self.clock}"), occurred_at=at,
                model=self.adapter, inference_event_id=log.event_id, score=self.score(mean)))
        return log

    def canary_period(self, n: int, *, weight: float, canary: int, canary_mean: float, production: int | None,
                      production_mean: float) -> None:
        for _ in range(n):
            if self.rng.random() < weight:
                self.serve(canary, canary_mean)
            else:
                self.serve(production, production_mean)

    def move(self, alias: str, version: int | None, previous: int | None, actor: str = "admin") -> RegistryEvent:
        event = RegistryEvent(
            event_id=uuid.uuid5(_ROLLOUT_NS, f"{self.adapter}|{self.seed}|move|{self.clock}|{alias}"),
            event_type="adapter.alias_moved", occurred_at=self._tick(), model=self.adapter, alias=alias,
            version=version, previous_version=previous, actor=actor, reason="test")
        self.events.append(event)
        return event

    def lines(self) -> list[str]:
        return [e.model_dump_json() for e in self.events]
