"""River change detectors wrapped with a warm-up, a minimum of observations and evidence.

Every signal is fed to its detector as a number in [0, 1]: bounded signals as they are
(`encoding="raw"`), unbounded ones (latency, surprise, length) as their position against the
reference quantiles learned during warm-up (`encoding="tails"`: 0 below the 10th percentile,
1 above the 90th, 0.5 between). The coding makes one set of thresholds work for every signal,
keeps heavy tails from raising false alarms, and makes severity comparable across signals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from river import drift
from river.base import BinaryDriftDetector, DriftDetector

from adaptloop_drift.errors import InvalidDetectorConfig

_RIVER: dict[str, type[DriftDetector] | type[BinaryDriftDetector]] = {
    "ADWIN": drift.ADWIN,
    "KSWIN": drift.KSWIN,
    "PageHinkley": drift.PageHinkley,
    "DDM": drift.binary.DDM,
    "EDDM": drift.binary.EDDM,
    "HDDM_A": drift.binary.HDDMA,
    "HDDM_W": drift.binary.HDDMW,
    "FHDDM": drift.binary.FHDDM,
}
BINARY_ONLY = frozenset({"DDM", "EDDM", "HDDM_A", "HDDM_W", "FHDDM"})
Severity = Literal["low", "medium", "high"]


class DetectorSpec(BaseModel):
    """Which River detector watches a signal, with what parameters (settings and per-adapter overrides)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = "ADWIN"
    params: dict[str, Any] = Field(default_factory=dict)
    encoding: Literal["raw", "tails"] = "raw"
    warmup: int = Field(default=0, ge=0)
    """First observations that only build the reference (quantiles, mean); no detection meanwhile."""
    min_observations: int = Field(default=30, ge=0)
    """Alarms are held back until the detector has seen this many values since its last alarm."""
    tail_quantile: float = Field(default=0.1, gt=0.0, lt=0.5)

    def build(self) -> DriftDetector | BinaryDriftDetector:
        cls = _RIVER.get(self.kind)
        if cls is None:
            raise InvalidDetectorConfig(f"unknown detector {self.kind!r}; known: {', '.join(sorted(_RIVER))}")
        params = dict(self.params)
        if self.kind == "KSWIN":
            params.setdefault("seed", 0)
        try:
            return cls(**params)
        except TypeError as exc:
            raise InvalidDetectorConfig(f"{self.kind}: {exc}") from exc


def severity_of(shift: float) -> Severity:
    """Severity from the absolute shift of a [0, 1]-coded signal's mean."""
    if shift >= 0.3:
        return "high"
    if shift >= 0.1:
        return "medium"
    return "low"


@dataclass(frozen=True)
class Detection:
    """What a detector saw when it raised an alarm."""

    observations: int
    severity: Severity
    evidence: dict[str, Any]


class SignalDetector:
    """One River detector on one signal of one adapter version.

    Parameters
    ----------
    spec
        The detector kind, its parameters, the coding of values, warm-up and minimum observations.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(42)
    >>> det = SignalDetector(DetectorSpec(kind="ADWIN", params={"delta": 0.001, "clock": 1}))
    >>> stream = [rng.random() < 0.2 for _ in range(500)] + [rng.random() < 0.8 for _ in range(500)]
    >>> alarms = []
    >>> for i, x in enumerate(stream):
    ...     if det.update(float(x)).drift_detected:
    ...         alarms.append((i, det.detection.severity))
    >>> alarms
    [(522, 'high')]
    """

    def __init__(self, spec: DetectorSpec) -> None:
        self.spec = spec
        self._reset()

    def _reset(self) -> None:
        self._river = self.spec.build()
        self._binary = self.spec.kind in BINARY_ONLY
        self._seen = 0
        self._warm: list[float] | None = [] if self.spec.warmup else None
        self._lo = -math.inf
        self._hi = math.inf
        self._since_alarm = 0
        self._baseline_sum = 0.0
        self._baseline_n = 0
        self._recent = math.nan
        self._reference_mean = math.nan
        self._alarms = 0
        self._detection: Detection | None = None

    @property
    def drift_detected(self) -> bool:
        """Whether the last `update` raised an alarm."""
        return self._detection is not None

    @property
    def detection(self) -> Detection | None:
        return self._detection

    @property
    def observations(self) -> int:
        return self._seen

    @property
    def alarms(self) -> int:
        return self._alarms

    @property
    def warming_up(self) -> bool:
        return self._warm is not None

    @property
    def recent_mean(self) -> float:
        """Exponentially weighted (alpha 0.1) mean of the coded values; NaN before the first."""
        return self._recent

    @property
    def baseline_mean(self) -> float:
        """Mean of the coded values since the previous alarm; NaN right after one."""
        return self._baseline_sum / self._baseline_n if self._baseline_n else math.nan

    def code(self, x: float) -> float:
        """The [0, 1] value fed to the River detector."""
        if self.spec.encoding == "raw":
            return x
        return 1.0 if x > self._hi else (0.0 if x < self._lo else 0.5)

    def update(self, x: float) -> SignalDetector:
        """Feed one raw signal value."""
        self._detection = None
        self._seen += 1
        if self._warm is not None:
            self._warm.append(x)
            if len(self._warm) >= self.spec.warmup:
                self._finish_warmup(self._warm)
            return self
        # `code` inlined: this runs for every signal of every event.
        c = x if self.spec.encoding == "raw" else (1.0 if x > self._hi else (0.0 if x < self._lo else 0.5))
        river = self._river
        if self._binary:
            c = 1.0 if c >= 0.5 else 0.0
            river.update(c >= 0.5)
        else:
            river.update(c)  # type: ignore[arg-type]
        recent = self._recent
        self._recent = c if recent != recent else 0.9 * recent + 0.1 * c  # NaN before the first value
        self._baseline_sum += c
        self._baseline_n += 1
        self._since_alarm += 1
        if river.drift_detected and self._since_alarm >= self.spec.min_observations:
            self._alarm()
        return self

    def _finish_warmup(self, values: list[float]) -> None:
        ordered = sorted(values)
        q = self.spec.tail_quantile
        self._lo = ordered[int(q * (len(ordered) - 1))]
        self._hi = ordered[int((1 - q) * (len(ordered) - 1))]
        self._reference_mean = sum(values) / len(values)
        self._warm = None

    def _alarm(self) -> None:
        baseline = self._baseline_sum / max(1, self._baseline_n)
        shift = abs(self._recent - baseline)
        evidence: dict[str, Any] = {
            "reference": {"mean_coded": round(baseline, 4), "count": self._baseline_n},
            "current": {"mean_coded": round(self._recent, 4), "ewma_alpha": 0.1},
            "shift": round(shift, 4),
            "encoding": self.spec.encoding,
        }
        if self.spec.encoding == "tails":
            evidence["reference"].update(low_quantile=self._lo, high_quantile=self._hi,
                                         raw_mean=_finite(self._reference_mean))
        estimation = getattr(self._river, "estimation", None)
        if isinstance(estimation, float):
            evidence["current"]["window_mean"] = round(estimation, 4)
        self._alarms += 1
        self._detection = Detection(self._seen, severity_of(shift), evidence)
        self._since_alarm = 0
        self._baseline_sum = 0.0
        self._baseline_n = 0

    def snapshot(self) -> dict[str, Any]:
        """Read-only view for `/v1/state`."""
        return {
            "kind": self.spec.kind,
            "encoding": self.spec.encoding,
            "observations": self._seen,
            "warming_up": self.warming_up,
            "alarms": self._alarms,
            "recent_mean_coded": _finite(self._recent),
            "baseline_mean_coded": _finite(self.baseline_mean),
        }


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 6)
