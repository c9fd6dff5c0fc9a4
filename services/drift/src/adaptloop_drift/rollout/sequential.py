"""Time-uniform confidence bounds on a mean rating: the statistics behind canary verdicts and the guard.

A verdict is re-checked after every rating, so a fixed-sample test would be peeked at thousands of
times and its error rate would grow with every look. These bounds hold at every sample size at once
(a confidence sequence): with probability at least 1 - alpha the true mean stays inside
`mean ± half_width(n)` for all n together, however long the stream is watched. They are Robbins'
normal-mixture boundary (the mixture sequential probability ratio test) with the variance estimated
from the data, which makes them asymptotically valid (Waudby-Smith, Arbour, Sinha, Kennedy and
Ramdas, "Time-uniform central limit theory and asymptotic confidence sequences", 2021).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

PRIOR_VARIANCE = 0.25
"""Variance a rating in [-1, 1] is assumed to have before any data (a spread of ±0.5)."""
PRIOR_WEIGHT = 2.0
"""How many ratings' worth of weight that assumption gets: a handful of identical ratings never
makes the estimated variance zero, while a few dozen ratings override it."""


def mixing_precision(alpha: float, tuned_for: int) -> float:
    """The mixture's precision rho^2 that makes the bound tightest near `tuned_for` samples.

    >>> round(mixing_precision(0.025, 100), 4)
    0.095
    """
    loss = -2.0 * math.log(alpha)
    return (loss + math.log(loss + 1.0)) / tuned_for


def half_width(n: int, variance: float, *, alpha: float, rho2: float) -> float:
    """Half-width of the two-sided (1 - alpha) confidence sequence after `n` samples.

    >>> round(half_width(30, 0.25, alpha=0.025, rho2=mixing_precision(0.025, 100)), 3)
    0.313
    >>> half_width(0, 0.25, alpha=0.025, rho2=0.1)
    inf
    """
    if n <= 0:
        return math.inf
    t = n * rho2 + 1.0
    return math.sqrt(variance * 2.0 * t / (n * n * rho2) * math.log(math.sqrt(t) / alpha))


@dataclass
class RunningMean:
    """Count, mean and sum of squared deviations (Welford), updated one rating at a time.

    >>> m = RunningMean()
    >>> for x in (1.0, -1.0, 1.0, 1.0):
    ...     _ = m.add(x)
    >>> m.n, m.mean, round(m.variance, 4)
    (4, 0.5, 0.7)
    """

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> RunningMean:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)
        return self

    @property
    def variance(self) -> float:
        """Sample variance shrunk towards `PRIOR_VARIANCE` with `PRIOR_WEIGHT` pseudo-ratings."""
        return (self.m2 + PRIOR_WEIGHT * PRIOR_VARIANCE) / max(self.n - 1 + PRIOR_WEIGHT, 1.0)


@dataclass(frozen=True)
class MeanBound:
    """A mean and its confidence-sequence bounds."""

    n: int
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class ConfidenceSequence:
    """Bounds of one arm's mean at level `alpha`, valid simultaneously at every sample size."""

    alpha: float
    tuned_for: int = 100

    @cached_property
    def rho2(self) -> float:
        return mixing_precision(self.alpha, self.tuned_for)

    def bound(self, stats: RunningMean) -> MeanBound:
        w = half_width(stats.n, stats.variance, alpha=self.alpha, rho2=self.rho2)
        return MeanBound(stats.n, stats.mean, stats.mean - w, stats.mean + w)


@dataclass(frozen=True)
class Difference:
    """Bounds of `new - reference` from two arms' bounds: each arm at alpha/2 gives alpha in all."""

    estimate: float
    low: float
    high: float
    z: float
    """The difference over its standard error (reported, not used for the verdict)."""

    @classmethod
    def of(cls, new: MeanBound, reference: MeanBound, new_var: float, reference_var: float) -> Difference:
        """
        >>> a, b = MeanBound(40, -0.5, -0.7, -0.3), MeanBound(40, 0.2, 0.0, 0.4)
        >>> d = Difference.of(a, b, 0.2, 0.2)
        >>> round(d.estimate, 2), round(d.low, 2), round(d.high, 2), round(d.z, 2)
        (-0.7, -1.1, -0.3, -7.0)
        """
        se = math.sqrt(new_var / max(new.n, 1) + reference_var / max(reference.n, 1))
        estimate = new.mean - reference.mean
        return cls(estimate, new.low - reference.high, new.high - reference.low, estimate / se if se else 0.0)
