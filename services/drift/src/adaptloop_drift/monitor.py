"""Per adapter and version: the reference vocabulary and one detector per signal.

A version's monitor starts fresh (new reference, new warm-up) the first time that version is
seen, so a promotion is never itself taken for drift. Feedback carries no version: it is
attributed to the version that served the log it rates (`inference_event_id`, looked up among
the partition's recent logs in `ServedLogs`), else to `metadata.adapter_version` when the
producer set it, else to the version that served the adapter's most recent log on this partition.
"""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adaptloop_drift.detectors import DetectorSpec, Severity, SignalDetector
from adaptloop_drift.events import AnyLog, AnyRating
from adaptloop_drift.novelty import ReferenceVocabulary
from adaptloop_drift.rollout.ratings import ServedLogs
from adaptloop_drift.series import RatingMeans, SignalSeries
from adaptloop_drift.signals import Signal, feedback_signals, log_signals

_BINARY = {"delta": 0.0005, "clock": 1}
DEFAULT_DETECTORS: dict[Signal, DetectorSpec] = {
    Signal.QUALITY_ERROR: DetectorSpec(kind="ADWIN", params=_BINARY, min_observations=30),
    Signal.CORRECTION_RATE: DetectorSpec(kind="ADWIN", params=_BINARY, min_observations=30),
    Signal.NOVELTY: DetectorSpec(kind="ADWIN", params={"delta": 0.0005, "clock": 1}, min_observations=30),
    Signal.SURPRISE: DetectorSpec(kind="ADWIN", params=_BINARY, encoding="tails", warmup=200),
    Signal.LATENCY: DetectorSpec(kind="ADWIN", params={"delta": 0.001, "clock": 8}, encoding="tails", warmup=200),
    Signal.COMPLETION_LENGTH: DetectorSpec(kind="ADWIN", params={"delta": 0.001, "clock": 8}, encoding="tails",
                                           warmup=200),
}


@dataclass(frozen=True)
class MonitorConfig:
    """Detectors per signal, per-adapter overrides, the novelty reference size and memory bounds."""

    detectors: Mapping[Signal, DetectorSpec] = field(default_factory=lambda: dict(DEFAULT_DETECTORS))
    overrides: Mapping[str, Mapping[Signal, DetectorSpec]] = field(default_factory=dict)
    novelty_reference_prompts: int = 200
    novelty_bits: int = 1 << 16
    versions_per_adapter: int = 3
    served_logs: int = 10_000
    """Recent logs remembered per partition to attribute ratings to the version that served them."""
    series_points: int = 120
    """Points kept per signal and version for `GET /v1/adapters/{name}/signals` (thinned as they fill)."""

    def specs_for(self, adapter: str) -> dict[Signal, DetectorSpec]:
        return {**self.detectors, **self.overrides.get(adapter, {})}


@dataclass(frozen=True)
class DriftObserved:
    """A detector raised an alarm on one signal of one adapter version."""

    adapter: str
    adapter_version: int | None
    signal: Signal
    detector: str
    trigger_event_id: uuid.UUID
    observations: int
    severity: Severity
    evidence: dict[str, Any]


class VersionMonitor:
    """Signals and detectors of one adapter version, fresh when the version first serves."""

    def __init__(self, adapter: str, version: int | None, config: MonitorConfig) -> None:
        self.adapter = adapter
        self.version = version
        self.vocabulary = ReferenceVocabulary(config.novelty_reference_prompts, config.novelty_bits)
        self.detectors = {signal: SignalDetector(spec) for signal, spec in config.specs_for(adapter).items()}
        self.logs = 0
        self.ratings = 0
        self._init_series(config.series_points)

    def _init_series(self, points: int) -> None:
        self.series = {signal: SignalSeries(points) for signal in self.detectors}
        self.rating = RatingMeans(points)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Checkpoints written before the series existed start them empty.
        self.__dict__.update(state)
        if "series" not in state:
            self._init_series(MonitorConfig.series_points)

    def observe(self, values: Mapping[Signal, float], trigger: uuid.UUID, at: float) -> list[DriftObserved]:
        """Feed one event's signal values (`at`: its `occurred_at`, epoch seconds); the alarms raised."""
        found: list[DriftObserved] = []
        detectors, series = self.detectors, self.series
        for signal, value in values.items():
            det = detectors.get(signal)
            if det is None:
                continue
            # The detector's state read directly (not through its properties): this runs per signal and event.
            d = det.update(value)._detection
            if d is None:
                if det._warm is None:
                    n = det._baseline_n
                    series[signal].add(at, det._seen, det._recent, det._baseline_sum / n if n else math.nan)
                continue
            series[signal].alarm(at, det._seen, d.severity, d.evidence["current"]["mean_coded"],
                                 d.evidence["reference"]["mean_coded"])
            found.append(DriftObserved(self.adapter, self.version, signal, det.spec.kind, trigger,
                                       self.logs + self.ratings, d.severity,
                                       {**d.evidence, "signal_observations": d.observations}))
        return found

    def _identity(self) -> dict[str, Any]:
        return {"adapter": self.adapter, "adapter_version": self.version, "logs": self.logs, "ratings": self.ratings}

    def snapshot(self) -> dict[str, Any]:
        return {
            **self._identity(),
            "novelty_reference": {"prompts": self.vocabulary.prompts_seen, "frozen": self.vocabulary.frozen},
            "detectors": {str(s): d.snapshot() for s, d in self.detectors.items()},
            "rating": self.rating.snapshot(),
        }

    def series_snapshot(self) -> dict[str, Any]:
        """Each signal's coded means over time with its alarms, and the ratings' mean score over time."""
        return {
            **self._identity(),
            "signals": {str(s): {"kind": d.spec.kind, "encoding": d.spec.encoding, "warming_up": d.warming_up,
                                 "alarms_total": d.alarms, **self.series[s].snapshot()}
                        for s, d in self.detectors.items()},
            "rating": {"count": self.rating.count, **self.rating.series.snapshot()},
        }


class AdapterMonitors:
    """Every adapter version monitored on one partition; the unit of checkpointing."""

    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        self._monitors: OrderedDict[tuple[str, int | None], VersionMonitor] = OrderedDict()
        self._current: dict[str, int | None] = {}
        self.served = ServedLogs(config.served_logs)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Checkpoints written before ratings were joined to their logs have no `served`.
        self.__dict__.update(state)
        if "served" not in state:
            self.served = ServedLogs(getattr(self.config, "served_logs", 10_000))

    @property
    def adapters(self) -> set[str]:
        return set(self._current)

    def knows(self, adapter: str) -> bool:
        return adapter in self._current

    def announce(self, adapter: str, version: int | None) -> None:
        """Remember an adapter (e.g. from the registry) so its ratings are accepted before its first log."""
        self._current.setdefault(adapter, version)

    def monitor(self, adapter: str, version: int | None) -> VersionMonitor:
        key = (adapter, version)
        mon = self._monitors.get(key)
        if mon is None:
            mon = self._monitors[key] = VersionMonitor(adapter, version, self.config)
            self._evict(adapter)
        else:
            self._monitors.move_to_end(key)
        return mon

    def _evict(self, adapter: str) -> None:
        keys = [k for k in self._monitors if k[0] == adapter]
        for key in keys[: max(0, len(keys) - self.config.versions_per_adapter)]:
            del self._monitors[key]

    def observe_log(self, adapter: str, log: AnyLog) -> list[DriftObserved]:
        self._current[adapter] = log.adapter_version
        at = self.served.record(adapter, log).at  # the log's `occurred_at` as a timestamp
        mon = self.monitor(adapter, log.adapter_version)
        mon.logs += 1
        return mon.observe(log_signals(log, mon.vocabulary), log.event_id, at)

    def observe_feedback(self, adapter: str, feedback: AnyRating) -> list[DriftObserved]:
        served = self.served.lookup(feedback.inference_event_id)
        declared = feedback.metadata.get("adapter_version")
        if served is not None:
            version = served.version
        else:
            version = declared if isinstance(declared, int) and declared >= 1 else self._current.get(adapter)
        self._current.setdefault(adapter, version)
        mon = self.monitor(adapter, version)
        mon.ratings += 1
        at = feedback.occurred_at.timestamp()
        mon.rating.add(feedback.score, at)
        return mon.observe(feedback_signals(feedback), feedback.event_id, at)

    def snapshot(self) -> list[dict[str, Any]]:
        return [m.snapshot() for m in self._monitors.values()]

    def series(self, adapter: str) -> list[dict[str, Any]]:
        """The signal series of every monitored version of `adapter`."""
        return [m.series_snapshot() for (name, _v), m in self._monitors.items() if name == adapter]

    def __len__(self) -> int:
        return len(self._monitors)
