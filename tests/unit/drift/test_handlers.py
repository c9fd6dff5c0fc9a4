"""Handlers: adapter names, the per-partition adapter limit, base-model traffic, deterministic ids; doctests."""

from __future__ import annotations

import doctest

import adaptloop_drift.detectors
import adaptloop_drift.novelty
import pytest
from adaptloop_drift.errors import UnmonitoredEvent
from adaptloop_drift.handlers import BaseModelTraffic, handle_feedback, handle_inference_log
from adaptloop_drift.monitor import AdapterMonitors, MonitorConfig
from adaptloop_drift.synthetic import make_feedback, make_log


def test_limits_names_and_base_model() -> None:
    monitors = AdapterMonitors(MonitorConfig())
    handle_inference_log(make_log("first", 0), monitors=monitors, max_adapters=1)
    handle_inference_log(make_log("first:canary", 1), monitors=monitors, max_adapters=1)
    with pytest.raises(UnmonitoredEvent, match="adapter limit"):
        handle_feedback(make_feedback("second", 0, 1), monitors=monitors, max_adapters=1)
    with pytest.raises(UnmonitoredEvent, match="does not name an adapter"):
        handle_inference_log(make_log("Upper.Case", 0), monitors=monitors, max_adapters=10)
    base = make_log("tiny-llama", 0, version=None)
    with pytest.raises(BaseModelTraffic):
        handle_inference_log(base, monitors=monitors, max_adapters=10)


def test_doctests() -> None:
    for module in (adaptloop_drift.detectors, adaptloop_drift.novelty):
        assert doctest.testmod(module).failed == 0
