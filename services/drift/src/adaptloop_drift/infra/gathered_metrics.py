"""The Prometheus samples of the drift worker's signal processes, answered on the worker's /metrics.

Each signal process (`signal_processes`) keeps its own default registry; the worker asks every child
for its `adaptloop_*` samples (`local_samples`) over its pipe and `GatheredMetrics` adds them to the
worker's own under the same names and labels, so a scrape sees one drift service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from prometheus_client import REGISTRY
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

METRIC_PREFIX = "adaptloop_"

Samples = list[tuple[str, list[tuple[str, dict[str, str], float]]]]
"""Prometheus families as plain tuples: `[(family name, [(sample name, labels, value)])]`."""


class SampleSource(Protocol):
    """The worker's signal processes, as far as gathering their samples goes."""

    def samples(self) -> list[Samples]: ...


def local_samples() -> Samples:
    """This process's `adaptloop_*` Prometheus samples."""
    return [(fam.name, [(s.name, dict(s.labels), float(s.value)) for s in fam.samples])
            for fam in REGISTRY.collect() if fam.name.startswith(METRIC_PREFIX)]


class GatheredMetrics(Collector):
    """The worker's own samples of `local` plus every child's, summed per sample name and labels (for
    `_created`, the earliest): the names and labels stay those of one process."""

    def __init__(self, local: Sequence[Collector], children: Callable[[], list[Samples]]) -> None:
        self._local = list(local)
        self._children = children

    def describe(self) -> Iterator[Metric]:
        for collector in self._local:
            yield from collector.describe()  # type: ignore[attr-defined]

    def collect(self) -> Iterator[Metric]:
        remote: dict[str, list[tuple[str, dict[str, str], float]]] = {}
        for answer in self._children():
            for name, samples in answer:
                remote.setdefault(name, []).extend(samples)
        for collector in self._local:
            for fam in collector.collect():
                values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
                every = [(s.name, dict(s.labels), float(s.value)) for s in fam.samples] + remote.get(fam.name, [])
                for name, labels, value in every:
                    key = (name, tuple(sorted(labels.items())))
                    if key not in values:
                        values[key] = value
                    elif name.endswith("_created"):
                        values[key] = min(values[key], value)
                    else:
                        values[key] += value
                out = Metric(fam.name, fam.documentation, fam.type, fam.unit)
                for (name, pairs), value in values.items():
                    out.add_sample(name, dict(pairs), value)
                yield out


def gather_metrics(processes: SampleSource, shared: Sequence[Collector]) -> None:
    """Answer `shared` on the worker's /metrics as the worker's and the children's samples together (once, from
    `main`): they leave the default registry and come back inside one `GatheredMetrics`."""
    for collector in shared:
        REGISTRY.unregister(collector)
    REGISTRY.register(GatheredMetrics(shared, processes.samples))
