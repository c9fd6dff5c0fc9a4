"""The quality detector against a lone River ADWIN on MOA-style streams; stationary streams stay quiet."""

from __future__ import annotations

import random

from adaptloop_drift.detectors import DetectorSpec, SignalDetector
from adaptloop_drift.monitor import DEFAULT_DETECTORS
from adaptloop_drift.signals import Signal
from adaptloop_drift.synthetic import abrupt_error_probabilities, errors
from river import drift

QUALITY = DEFAULT_DETECTORS[Signal.QUALITY_ERROR]


def _alarms(det, stream):  # type: ignore[no-untyped-def]
    found = []
    for i, x in enumerate(stream):
        det.update(float(x))  # River's ADWIN.update returns None, ours returns the detector
        if det.drift_detected:
            found.append(i)
    return found


def _delays(alarms: list[int]) -> list[int]:
    out = []
    for change in range(1, 101):
        hits = [a for a in alarms if change * 250 <= a < change * 250 + 250]
        assert hits, f"change {change} missed"
        out.append(hits[0] - change * 250)
    return out


def test_moa_abrupt_stream_every_change_detected_faster_than_adwin() -> None:
    stream = errors(list(abrupt_error_probabilities()), seed=5)
    ours = _alarms(SignalDetector(QUALITY), stream)
    lone = _alarms(drift.ADWIN(), stream)
    assert len(ours) == 100, "exactly one alarm per change, none in between"
    ours_delay = sum(_delays(ours)) / 100
    adwin_delay = sum(_delays(lone)) / 100
    assert (round(ours_delay, 2), round(adwin_delay, 2)) == (39.16, 49.2)
    assert ours_delay <= 1.2 * adwin_delay


def test_stationary_100k_events_raise_no_alarm() -> None:
    for seed, p in ((1, 0.2), (2, 0.5), (3, 0.8), (11, 0.2), (12, 0.5), (13, 0.8)):
        assert _alarms(SignalDetector(QUALITY), errors([p] * 100_000, seed=seed)) == []


def test_tails_encoding_is_quiet_on_heavy_tailed_stationary_values_and_sees_a_shift() -> None:
    rng = random.Random(3)
    det = SignalDetector(DEFAULT_DETECTORS[Signal.LATENCY])
    stationary = [rng.lognormvariate(4.5, 0.8) for _ in range(100_000)]
    assert _alarms(det, stationary) == []
    slower = [rng.lognormvariate(5.5, 0.8) for _ in range(1000)]
    alarms = _alarms(det, slower)
    assert alarms and alarms[0] < 200
    assert det.alarms >= 1


def test_binary_detectors_and_warmup() -> None:
    det = SignalDetector(DetectorSpec(kind="HDDM_A", warmup=0, min_observations=30))
    stream = errors([0.1] * 1000 + [0.7] * 500, seed=4)
    alarms = _alarms(det, stream)
    assert alarms and 1000 <= alarms[0] < 1100
    warm = SignalDetector(DetectorSpec(kind="ADWIN", encoding="tails", warmup=50))
    for x in range(49):
        warm.update(float(x))
    assert warm.warming_up
    warm.update(49.0)
    assert not warm.warming_up and warm.code(100.0) == 1.0 and warm.code(-1.0) == 0.0 and warm.code(25.0) == 0.5
