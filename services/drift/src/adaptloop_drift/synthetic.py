"""Seeded synthetic streams of contract events, for tests, benchmarks and tuning the detectors offline."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from adaptloop_contracts import InferenceFeedback, InferenceLog

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
