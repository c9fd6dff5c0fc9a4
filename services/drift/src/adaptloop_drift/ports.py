"""What the signal consumer needs from the outside world; `infra/` implements these, unit tests pass fakes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from adaptloop_contracts import Event

    from adaptloop_drift.monitor import AdapterMonitors
    from adaptloop_drift.rollout.judge import RolloutJudge
    from adaptloop_drift.rollout.trials import Verdict


@dataclass
class Checkpoint:
    partition: int
    offsets: dict[str, int]
    """Next offset to read, per topic (broker names)."""
    monitors: AdapterMonitors
    rollout: RolloutJudge | None = None
    """The rollout judge's state (ratings waiting for their log, trials, verdicts); None in older files."""


class EventPublisher(Protocol):
    """`drift.detected` events and dead letters; flushed before every checkpoint, whose offsets they precede."""

    def publish(self, topic_base: str, event: Event, *, key: str | None = ...,
                headers: list[tuple[str, bytes]] | None = ...) -> None: ...

    def produce_raw(self, topic: str, value: bytes | None, *, key: bytes | None,
                    headers: list[tuple[str, bytes]] | None) -> None: ...

    def flush(self, timeout_s: float = ...) -> int:
        """Wait for outstanding messages; returns how many are still undelivered."""
        ...


class Checkpoints(Protocol):
    """Each partition's detector and judge state with the offsets it reflects (local files in production)."""

    def save(self, checkpoint: Checkpoint) -> int:
        """Returns the size written, in bytes."""
        ...

    def load(self, partition: int) -> Checkpoint | None: ...


class RolloutDecisions(Protocol):
    """Where the judge's verdicts go to reach the registry; `submit` must not block the hot path."""

    def submit(self, verdict: Verdict) -> None: ...
