"""Monitors per adapter version: novelty on a domain shift, fresh references for new versions."""

from __future__ import annotations

from adaptloop_drift.monitor import AdapterMonitors, MonitorConfig
from adaptloop_drift.synthetic import make_feedback, make_log
from adaptloop_scenarios.corpus import generate_pairs


def test_prompt_domain_shift_detected_within_300_events() -> None:
    monitors = AdapterMonitors(MonitorConfig())
    stream = generate_pairs("capital_markets", 800, seed=2) + generate_pairs("automotive", 300, seed=2)
    first = None
    for i, pair in enumerate(stream):
        found = monitors.observe_log("markets", make_log("markets", i, seed=2, prompt=pair.prompt))
        monitors.observe_feedback("markets", make_feedback("markets", i, i % 5 == 0, seed=2))
        if any(o.signal == "input_novelty" for o in found):
            assert i >= 800, f"false novelty alarm at {i}"
            first = i if first is None else first
    assert first is not None and first - 800 < 300
    assert first - 800 == 14


def test_new_version_gets_a_fresh_reference_so_promotion_is_not_drift() -> None:
    monitors = AdapterMonitors(MonitorConfig())
    old = generate_pairs("security_ops", 600, seed=3)
    new = generate_pairs("automotive", 600, seed=3)
    alarms = []
    for i, pair in enumerate(old):
        alarms += monitors.observe_log("ops", make_log("ops", i, seed=3, version=1, prompt=pair.prompt))
    for i, pair in enumerate(new, start=600):
        alarms += monitors.observe_log("ops", make_log("ops", i, seed=3, version=2, prompt=pair.prompt))
    assert [a for a in alarms if a.signal == "input_novelty"] == []
    versions = {(s["adapter"], s["adapter_version"]) for s in monitors.snapshot()}
    assert versions == {("ops", 1), ("ops", 2)}


def test_versions_per_adapter_bounded() -> None:
    monitors = AdapterMonitors(MonitorConfig(versions_per_adapter=2))
    for v in range(1, 6):
        monitors.observe_log("a", make_log("a", v, version=v))
    assert [s["adapter_version"] for s in monitors.snapshot()] == [4, 5]
