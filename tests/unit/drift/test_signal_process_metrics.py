"""The worker's side of the signal processes: metrics added up under one name, the default process count."""

from __future__ import annotations

from adaptloop_drift.config import SIGNAL_PARTITIONS, Settings
from adaptloop_drift.infra.gathered_metrics import GatheredMetrics, Samples
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


def _child(events: float, lag: dict[str, float], rate: float) -> Samples:
    return [
        ("adaptloop_drift_events", [("adaptloop_drift_events_total", {"topic": "inference.logs"}, events),
                                    ("adaptloop_drift_events_created", {"topic": "inference.logs"}, 100.0)]),
        ("adaptloop_drift_consumer_lag", [("adaptloop_drift_consumer_lag", {"topic": "inference.logs",
                                                                            "partition": p}, v)
                                          for p, v in lag.items()]),
        ("adaptloop_drift_events_per_second", [("adaptloop_drift_events_per_second", {}, rate)]),
        ("process_cpu_seconds", [("process_cpu_seconds_total", {}, 9.0)]),
    ]


def test_children_samples_add_up_under_the_workers_names() -> None:
    registry = CollectorRegistry()
    events = Counter("adaptloop_drift_events_total", "Events", ["topic"], registry=None)
    lag = Gauge("adaptloop_drift_consumer_lag", "Lag", ["topic", "partition"], registry=None)
    rate = Gauge("adaptloop_drift_events_per_second", "Rate", registry=None)
    events.labels("inference.logs").inc(1)  # the worker's own (none in practice, but kept)
    children = [_child(10, {"0": 3, "1": 0}, 500.0), _child(20, {"2": 7, "3": 1}, 700.0)]
    registry.register(GatheredMetrics([events, lag, rate], lambda: children))
    text = generate_latest(registry).decode()
    assert text.count("# TYPE adaptloop_drift_events_total counter") == 1
    assert 'adaptloop_drift_events_total{topic="inference.logs"} 31.0' in text
    for p, v in (("0", 3.0), ("1", 0.0), ("2", 7.0), ("3", 1.0)):
        assert f'adaptloop_drift_consumer_lag{{partition="{p}",topic="inference.logs"}} {v}' in text
    assert "adaptloop_drift_events_per_second 1200.0" in text
    assert "process_cpu_seconds" not in text  # a child's process metrics are its own


def test_a_child_that_cannot_answer_leaves_the_workers_samples() -> None:
    registry = CollectorRegistry()
    events = Counter("adaptloop_drift_events_total", "Events", ["topic"], registry=None)
    events.labels("inference.feedback").inc(2)
    registry.register(GatheredMetrics([events], lambda: []))
    assert 'adaptloop_drift_events_total{topic="inference.feedback"} 2.0' in generate_latest(registry).decode()


def test_default_process_count_is_the_cores_at_most_the_partitions() -> None:
    assert SIGNAL_PARTITIONS == 4
    assert Settings(signal_processes=3).signal_process_count() == 3
    assert Settings(signal_processes=1).signal_process_count() == 1
    assert 1 <= Settings(signal_processes=0).signal_process_count() <= SIGNAL_PARTITIONS
