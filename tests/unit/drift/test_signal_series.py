"""Signal series: bounded over a version's life, alarms marked where they fell, served by the HTTP API."""

from __future__ import annotations

import pickle

from adaptloop_drift.api.routes import create_http_app
from adaptloop_drift.infra.signal_metrics import SignalMeans
from adaptloop_drift.monitor import AdapterMonitors, MonitorConfig
from adaptloop_drift.series import COLUMNS, SignalSeries
from adaptloop_drift.synthetic import make_feedback, make_log
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry


def test_a_series_keeps_its_whole_span_in_bounded_points() -> None:
    series = SignalSeries(capacity=10)
    for i in range(1000):
        series.add(float(i), i + 1, 0.5, 0.25)
    snap = series.snapshot()
    assert len(snap["points"]) <= 11
    assert snap["points"][0][:2] == [0.0, 1]
    assert snap["points"][-1][:2] == [999.0, 1000], "the latest value is always shown"
    assert snap["stride"] == 128
    steps = {b[1] - a[1] for a, b in zip(snap["points"], snap["points"][1:-1], strict=False)}
    assert steps == {snap["stride"]}, "thinned points stay evenly spaced"


def _shifted_monitors() -> AdapterMonitors:
    """A version whose error rate goes from 10% to 90% after 300 ratings."""
    monitors = AdapterMonitors(MonitorConfig())
    for i in range(600):
        monitors.observe_log("support", make_log("support", i, version=2))
        error = (i % 10 == 0) if i < 300 else (i % 10 != 0)
        monitors.observe_feedback("support", make_feedback("support", i, error))
    return monitors


def test_quality_shift_shows_recent_above_baseline_with_the_alarm_marked() -> None:
    [version] = _shifted_monitors().series("support")
    assert (version["adapter_version"], version["ratings"]) == (2, 600)
    quality = version["signals"]["quality_error"]
    assert len(quality["points"]) <= MonitorConfig().series_points + 1
    [alarm, *_] = quality["alarms"]
    assert 300 < alarm["observations"] < 400
    assert alarm["severity"] == "high" and alarm["recent"] - alarm["baseline"] >= 0.3
    before = [p for p in quality["points"] if p[1] < 300 and p[1] > 50]
    assert all(abs(p[2] - 0.1) < 0.2 and abs(p[3] - 0.1) < 0.05 for p in before)
    assert quality["points"][-1][2] > 0.7
    rating = version["rating"]
    assert rating["count"] == 600
    assert rating["points"][-1][2] < -0.5 < rating["points"][-1][3] < 0.5, "recent rating fell below the mean"
    assert version["signals"]["latency_ms"]["points"], "tails-coded signals are plotted after their warm-up"


def test_series_survive_the_checkpoint_and_old_checkpoints_load() -> None:
    monitors = _shifted_monitors()
    restored = pickle.loads(pickle.dumps(monitors))
    assert restored.series("support") == monitors.series("support")
    version = next(iter(restored._monitors.values()))
    del version.__dict__["series"], version.__dict__["rating"]
    old = pickle.loads(pickle.dumps(restored))
    assert old.series("support")[0]["signals"]["quality_error"]["points"] == []


def test_signals_endpoint_answers_the_series_or_404() -> None:
    monitors = _shifted_monitors()
    app = create_http_app(
        tokens="", max_body_bytes=1024, checks={}, detector_state=monitors.snapshot, policy_state=dict,
        rollout_state=list, rollout_settings={}, set_paused=lambda *_: None, signal_series=monitors.series,
    )
    client = TestClient(app)
    body = client.get("/v1/adapters/support/signals").json()
    assert body["columns"] == list(COLUMNS)
    assert body["versions"][0]["signals"]["quality_error"]["alarms"]
    assert client.get("/v1/adapters/other/signals").status_code == 404
    assert client.get("/v1/adapters/Bad%20Name/signals").status_code == 422


def test_signal_means_are_exported_at_scrape_time() -> None:
    monitors = _shifted_monitors()
    registry = CollectorRegistry()
    registry.register(SignalMeans(monitors.snapshot))
    labels = {"adapter": "support", "version": "2", "signal": "quality_error"}
    recent = registry.get_sample_value("adaptloop_drift_signal_mean_coded", {**labels, "mean": "recent"})
    assert recent is not None and recent > 0.7
    assert registry.get_sample_value("adaptloop_drift_signal_alarms", labels) >= 1
    rating = registry.get_sample_value("adaptloop_drift_rating_mean", {"adapter": "support", "version": "2",
                                                                       "mean": "overall"})
    assert rating == monitors.snapshot()[0]["rating"]["overall"]
