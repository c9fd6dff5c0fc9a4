"""Bounded time series of each signal's coded means per adapter version, with its alarms.

A `SignalSeries` keeps at most `capacity` points over the whole life of a version: every value
while it has room, then every 2nd, 4th, ... (when it fills, every other point is dropped and the
stride doubles), so memory is fixed and the series always spans from the version's first value to
now. Times are the events' `occurred_at`, so a replay after a restart rebuilds the same points.
The series lives in the monitors and so in the checkpoint (compact arrays: about 2 KiB a signal).
"""

from __future__ import annotations

import math
from array import array
from typing import Any

COLUMNS = ("at", "observations", "recent", "baseline")
"""One point: event time (epoch seconds), values seen, recent (EWMA) mean, baseline mean."""


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 4)


class SignalSeries:
    """The coded recent and baseline means of one signal over time, and where its alarms fell."""

    def __init__(self, capacity: int = 120, max_alarms: int = 20) -> None:
        self.capacity = max(2, capacity)
        self.max_alarms = max_alarms
        self.stride = 1
        self.offered = 0
        self.at = array("d")
        self.observations = array("q")
        self.recent = array("f")
        self.baseline = array("f")
        self.last: tuple[float, int, float, float] | None = None
        self.alarms: list[tuple[float, int, str, float, float]] = []

    def add(self, at: float, observations: int, recent: float, baseline: float) -> None:
        self.last = (at, observations, recent, baseline)
        self.offered += 1
        if (self.offered - 1) % self.stride:
            return
        self.at.append(at)
        self.observations.append(observations)
        self.recent.append(recent)
        self.baseline.append(baseline)
        if len(self.at) >= self.capacity:
            for name in ("at", "observations", "recent", "baseline"):
                setattr(self, name, getattr(self, name)[::2])
            self.stride *= 2

    def alarm(self, at: float, observations: int, severity: str, recent: float, baseline: float) -> None:
        """Mark an alarm (recent and baseline as the detector saw them, before its baseline restarts)."""
        self.add(at, observations, recent, baseline)
        self.alarms.append((at, observations, severity, recent, baseline))
        del self.alarms[: max(0, len(self.alarms) - self.max_alarms)]

    def snapshot(self) -> dict[str, Any]:
        points = [[t, n, _num(r), _num(b)]
                  for t, n, r, b in zip(self.at, self.observations, self.recent, self.baseline, strict=True)]
        if self.last is not None and (not self.observations or self.last[1] > self.observations[-1]):
            t, n, r, b = self.last
            points.append([t, n, _num(r), _num(b)])
        return {
            "stride": self.stride,
            "points": points,
            "alarms": [{"at": t, "observations": n, "severity": s, "recent": _num(r), "baseline": _num(b)}
                       for t, n, s, r, b in self.alarms],
        }


class RatingMeans:
    """Ratings of one version: their recent (EWMA, alpha 0.1) and overall mean score, as a series."""

    def __init__(self, capacity: int) -> None:
        self.series = SignalSeries(capacity)
        self.count = 0
        self.total = 0.0
        self.recent = math.nan

    def add(self, score: float, at: float) -> None:
        self.count += 1
        self.total += score
        self.recent = score if math.isnan(self.recent) else 0.9 * self.recent + 0.1 * score
        self.series.add(at, self.count, self.recent, self.total / self.count)

    def snapshot(self) -> dict[str, Any]:
        """The latest means (for `/v1/state` and the metrics)."""
        return {"count": self.count, "recent": _num(self.recent),
                "overall": round(self.total / self.count, 4) if self.count else None}
