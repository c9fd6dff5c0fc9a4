"""Event streams for the rollout judge's tests (`RatedTraffic` from `adaptloop_drift.synthetic`), interleaved."""

from __future__ import annotations

import random

from adaptloop_contracts import Event, InferenceFeedback, InferenceLog, RegistryEvent
from adaptloop_drift.synthetic import ROLLOUT_T0 as T0
from adaptloop_drift.synthetic import RatedTraffic as Traffic

__all__ = ["T0", "Traffic", "interleaved"]


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
