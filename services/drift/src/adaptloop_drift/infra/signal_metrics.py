"""Prometheus gauges of each monitored version's signals, read from the detector state at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class SignalMeans(Collector):
    """At scrape time, each monitored version's coded signal means, alarms and mean rating (from `/v1/state`).

    At most `max_versions` versions are exported (the first on the worker's partitions), so a
    worker watching thousands of adapters does not flood Prometheus; the HTTP API has them all.
    """

    def __init__(self, state: Callable[[], list[dict[str, Any]]], max_versions: int = 200) -> None:
        self._state = state
        self._max = max_versions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        means = GaugeMetricFamily("adaptloop_drift_signal_mean_coded",
                                  "A signal's coded mean per adapter version: recent (EWMA) or baseline (since the "
                                  "previous alarm)", labels=["adapter", "version", "signal", "mean"])
        alarms = GaugeMetricFamily("adaptloop_drift_signal_alarms", "Alarms raised on a signal of an adapter version",
                                   labels=["adapter", "version", "signal"])
        ratings = GaugeMetricFamily("adaptloop_drift_rating_mean",
                                    "Mean rating score of an adapter version: recent (EWMA) or overall",
                                    labels=["adapter", "version", "mean"])
        for entry in self._state()[: self._max]:
            adapter, version = str(entry.get("adapter")), str(entry.get("adapter_version") or "base")
            for signal, det in entry.get("detectors", {}).items():
                alarms.add_metric([adapter, version, signal], det.get("alarms", 0))
                for mean in ("recent", "baseline"):
                    value = det.get(f"{mean}_mean_coded")
                    if value is not None:
                        means.add_metric([adapter, version, signal, mean], value)
            for mean, value in (entry.get("rating") or {}).items():
                if mean in ("recent", "overall") and value is not None:
                    ratings.add_metric([adapter, version, mean], value)
        yield means
        yield alarms
        yield ratings


def register_signal_means(state: Callable[[], list[dict[str, Any]]]) -> None:
    """Export `SignalMeans` from the process's registry (once per process, from `main`)."""
    REGISTRY.register(SignalMeans(state))
