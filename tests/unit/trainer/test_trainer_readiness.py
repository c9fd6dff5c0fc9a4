"""A drift retrain waits for enough examples of the new traffic, for at most its limit, and can be cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from adaptloop_trainer.errors import JobCancelled
from adaptloop_trainer.readiness import wait_for_new_examples
from adaptloop_trainer.training_config import resolve_training_config
from trainer_fakes import FakeExamples

DRIFT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Clock:
    """Time that advances only when the wait pauses; each pause lets `arrive` examples in."""

    def __init__(self, examples: FakeExamples, arrive: int, start: float = 0.0) -> None:
        self.t, self.examples, self.arrive, self.pauses = start, examples, arrive, 0

    def now(self) -> datetime:
        return DRIFT + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    def pause(self, seconds: float) -> None:
        self.pauses += 1
        rows = self.examples.rows.setdefault("support", [])
        rows.extend(_row(self.now(), f"q{len(rows) + i}") for i in range(self.arrive))
        self.t += seconds


def _row(at: datetime, prompt: str, target: str | None = "ideal") -> dict[str, Any]:
    return {"prompt": prompt, "target": target, "occurred_at": at}


def _wait(examples: FakeExamples, clock: Clock, *, wanted: int, max_wait_s: float = 60.0,
          stop: bool = False) -> Any:
    seen: list[tuple[int, int]] = []
    readiness = wait_for_new_examples(
        examples=examples, adapter="support", drift_started_at=DRIFT, wanted=wanted, max_wait_s=max_wait_s,
        should_stop=lambda: stop, on_wait=lambda have, want: seen.append((have, want)), now=clock.now,
        monotonic=clock.monotonic, pause=clock.pause, poll_s=2.0,
    )
    return readiness, seen


def test_waits_until_enough_examples_arrived_since_the_drift_began() -> None:
    before = [_row(DRIFT - timedelta(seconds=5), f"old{i}") for i in range(50)]
    untargeted = [_row(DRIFT, f"open{i}", target=None) for i in range(50)]
    examples = FakeExamples({"support": before + untargeted})
    clock = Clock(examples, arrive=4)
    readiness, seen = _wait(examples, clock, wanted=10)
    assert readiness.new_examples == 12 and not readiness.timed_out, "older and target-less rows do not count"
    assert [have for have, _ in seen] == [0, 4, 8, 12]
    assert readiness.until == DRIFT + timedelta(seconds=6) and readiness.waited_s == 6.0


def test_goes_ahead_with_what_arrived_when_the_limit_passes() -> None:
    examples = FakeExamples({"support": []})
    clock = Clock(examples, arrive=1)
    readiness, _ = _wait(examples, clock, wanted=100, max_wait_s=5.0)
    assert readiness.timed_out and readiness.new_examples == 3 and readiness.waited_s == 5.0
    assert readiness.as_json()["timed_out"] is True


def test_enough_examples_already_there_means_no_wait() -> None:
    examples = FakeExamples({"support": [_row(DRIFT, f"q{i}") for i in range(20)]})
    clock = Clock(examples, arrive=1, start=1.0)
    readiness, _ = _wait(examples, clock, wanted=20)
    assert clock.pauses == 0 and readiness.new_examples == 20


def test_a_cancelled_job_stops_waiting() -> None:
    examples = FakeExamples({"support": []})
    with pytest.raises(JobCancelled, match="0 of 5 since the drift began"):
        _wait(examples, Clock(examples, arrive=0), wanted=5, stop=True)


def test_the_wait_is_configured_per_adapter_with_bounds() -> None:
    config = resolve_training_config({"window": {"min_new_examples": 80, "max_wait_s": 120}})
    assert config.window.min_new_examples == 80 and config.window.max_wait_s == 120
    assert resolve_training_config({}).window.min_new_examples is None
    with pytest.raises(Exception, match="min_new_examples"):
        resolve_training_config({"window": {"min_new_examples": 0}})
