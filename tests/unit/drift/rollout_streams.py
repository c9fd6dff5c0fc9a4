"""Seeded event streams for the rollout judge's tests: requests of versions, their ratings, alias moves."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from adaptloop_contracts import Event, InferenceFeedback, InferenceLog, RegistryEvent

T0 = datetime(2026, 3, 1, tzinfo=UTC)
_NS = uuid.UUID("5d0c9a2e-1b7f-4c3a-9e6d-2f8b4a1c7e30")


@dataclass
class Traffic:
    """Builds one adapter's events in time order: every request served is logged, then rated."""

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
        return T0 + timedelta(seconds=self.clock)

    def score(self, mean: float) -> float:
        return max(-1.0, min(1.0, self.rng.gauss(mean, self.sd)))

    def serve(self, version: int | None, mean: float, *, rated: bool = True) -> InferenceLog:
        """One request served by `version` and (by default) rated around `mean`."""
        at = self._tick()
        log = InferenceLog(
            event_id=uuid.uuid5(_NS, f"{self.adapter}|{self.seed}|log|{self.clock}"), occurred_at=at,
            model=self.adapter, request_id=f"r{self.clock}", adapter_version=version, base_model="tiny-llama",
            prompt="what is the settlement cycle?", completion="two days", prompt_tokens=6, completion_tokens=2,
            latency_ms=40.0, mean_logprob=-1.0,
        )
        self.events.append(log)
        if rated:
            self.events.append(InferenceFeedback(
                event_id=uuid.uuid5(_NS, f"{self.adapter}|{self.seed}|fb|{self.clock}"), occurred_at=at,
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
            event_id=uuid.uuid5(_NS, f"{self.adapter}|{self.seed}|move|{self.clock}|{alias}"),
            event_type="adapter.alias_moved", occurred_at=self._tick(), model=self.adapter, alias=alias,
            version=version, previous_version=previous, actor=actor, reason="test")
        self.events.append(event)
        return event

    def lines(self) -> list[str]:
        return [e.model_dump_json() for e in self.events]


def interleaved(events: list[Event], seed: int) -> list[Event]:
    """The same events as the consumer might take them in: logs and ratings mixed at random (each topic
    in its own order, either ahead by up to about 40 events), and each alias move taken after every event
    that preceded it and up to 60 more."""
    rng = random.Random(seed)
    logs = [e for e in events if isinstance(e, InferenceLog)]
    ratings = [e for e in events if isinstance(e, InferenceFeedback)]
    mixed: list[Event] = []
    i = j = 0
    while i < len(logs) or j < len(ratings):
        # Either topic may run ahead, by up to ~40 events (seconds here): the consumer reads both at once.
        ahead = i - j
        p_log = 0.5 if abs(ahead) < 40 else (0.1 if ahead > 0 else 0.9)
        take_log = j >= len(ratings) or (i < len(logs) and rng.random() < p_log)
        burst = rng.randint(1, 10)
        if take_log:
            mixed += logs[i:i + burst]
            i += burst
        else:
            mixed += ratings[j:j + burst]
            j += burst
    position = {id(e): n for n, e in enumerate(events)}
    out: list[Event] = []
    moves = [e for e in events if isinstance(e, RegistryEvent)]
    emitted: set[int] = set()
    low = 0  # every non-registry event before this original position has been taken
    wait = rng.randint(1, 60)
    for e in mixed:
        out.append(e)
        emitted.add(position[id(e)])
        while low < len(events) and (low in emitted or isinstance(events[low], RegistryEvent)):
            low += 1
        while moves and position[id(moves[0])] < low:
            wait -= 1
            if wait > 0:
                break
            out.append(moves.pop(0))
            wait = rng.randint(1, 60)
    return out + moves
