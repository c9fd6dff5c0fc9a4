"""The dashboard keeps plottable drift history per adapter version."""

from __future__ import annotations

from adaptloop_dashboard.config import Settings
from adaptloop_dashboard.overview import DriftHistory, numeric_leaves


def test_numeric_leaves_flatten_numbers_only() -> None:
    doc = {"a": 1, "b": {"c": 2.5, "d": True, "e": None, "f": "x"}}
    assert numeric_leaves(doc) == {"a": 1.0, "b.c": 2.5}


def test_history_is_kept_per_adapter_version_and_bounded() -> None:
    history = DriftHistory(Settings(history_samples=3))
    for i in range(5):
        history.record({"adapters": [{"adapter": "support", "adapter_version": 2, "logs": i,
                                      "detectors": {"input_novelty": {"alarms": 0}}}]}, at=float(i))
    samples = history.snapshot()["support v2"]
    assert [s["at"] for s in samples] == [2.0, 3.0, 4.0]
    assert samples[-1]["values"]["logs"] == 4.0
    assert samples[-1]["values"]["detectors.input_novelty.alarms"] == 0.0
