"""Signals: the per-event numbers the detectors watch, computed from one log or one rating."""

from __future__ import annotations

from enum import StrEnum

from adaptloop_drift.events import AnyLog, AnyRating
from adaptloop_drift.novelty import ReferenceVocabulary


class Signal(StrEnum):
    """Every measured quantity; values are the names used in `drift.detected.signal` and settings."""

    QUALITY_ERROR = "quality_error"
    """1 when a rating's score is below 0, else 0."""
    CORRECTION_RATE = "correction_rate"
    """1 when a rating carries a correction, else 0."""
    SURPRISE = "surprise"
    """Negative mean log-probability of the completion tokens."""
    NOVELTY = "input_novelty"
    """Share of the prompt's hashed n-grams unseen in the version's reference traffic."""
    LATENCY = "latency_ms"
    COMPLETION_LENGTH = "completion_tokens"


LOG_SIGNALS = (Signal.SURPRISE, Signal.NOVELTY, Signal.LATENCY, Signal.COMPLETION_LENGTH)
FEEDBACK_SIGNALS = (Signal.QUALITY_ERROR, Signal.CORRECTION_RATE)
OPERATIONAL_SIGNALS = frozenset({Signal.LATENCY, Signal.COMPLETION_LENGTH})
"""Reported as drift.detected but not retrain triggers by default."""


def log_signals(log: AnyLog, vocabulary: ReferenceVocabulary) -> dict[Signal, float]:
    """Signal values of one inference log; novelty is measured only once the reference is frozen."""
    values: dict[Signal, float] = {
        Signal.LATENCY: float(log.latency_ms),
        Signal.COMPLETION_LENGTH: float(log.completion_tokens),
    }
    if log.mean_logprob is not None:
        values[Signal.SURPRISE] = -float(log.mean_logprob)
    if vocabulary.frozen:
        values[Signal.NOVELTY] = vocabulary.novelty(log.prompt)
    else:
        vocabulary.update(log.prompt)
    return values


def feedback_signals(feedback: AnyRating) -> dict[Signal, float]:
    """Signal values of one rating."""
    return {
        Signal.QUALITY_ERROR: 1.0 if feedback.score < 0 else 0.0,
        Signal.CORRECTION_RATE: 0.0 if feedback.correction is None else 1.0,
    }
