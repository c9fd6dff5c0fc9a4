"""What a signal consumer holds per partition: detector state, rollout judge and next offset per topic.

The consumer's thread changes them per event under `lock`; the HTTP API reads them under it and the
decision sender records its outcomes under it. A partition's state comes from its checkpoint when
assigned, starts over when its log was replaced, is dropped when revoked and is saved with the
offsets it reflects (`SignalConsumer.checkpoint` then commits those offsets).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from confluent_kafka import TopicPartition

from adaptloop_drift import metrics
from adaptloop_drift.monitor import AdapterMonitors, MonitorConfig
from adaptloop_drift.ports import Checkpoint, Checkpoints
from adaptloop_drift.rollout.judge import RolloutConfig, RolloutJudge


class HeldPartitions:
    """The state of each partition one signal consumer holds; changed only with `lock` held."""

    def __init__(self, store: Checkpoints, monitor_config: MonitorConfig, rollout_config: RolloutConfig) -> None:
        self.store = store
        self.monitor_config = monitor_config
        self.rollout_config = rollout_config
        self.lock = threading.Lock()
        self.states: dict[int, AdapterMonitors] = {}
        self.offsets: dict[int, dict[str, int]] = {}
        """Per partition, the next offset to read per topic (broker names)."""
        self.rollouts: dict[int, RolloutJudge] = {}

    # -- changes (the caller holds the lock) ---------------------------------------------------
    def restore(self, p: int) -> Checkpoint | None:
        """Partition `p` as its checkpoint left it (the judge with today's settings), or fresh without one."""
        ckpt = self.store.load(p)
        if ckpt is None:
            self.start_over(p)
            return None
        self.states[p] = ckpt.monitors
        self.offsets[p] = dict(ckpt.offsets)
        if ckpt.rollout is None:  # a file written before the judge: a fresh one over its served logs
            self.rollouts[p] = RolloutJudge(self.rollout_config, ckpt.monitors.served)
        else:
            ckpt.rollout.config = self.rollout_config
            self.rollouts[p] = ckpt.rollout
        return ckpt

    def start_over(self, p: int) -> None:
        """Fresh detectors, judge and offsets for partition `p`, read again from the start of its log."""
        self.states[p] = AdapterMonitors(self.monitor_config)
        self.rollouts[p] = RolloutJudge(self.rollout_config, self.states[p].served)
        self.offsets[p] = {}

    def drop(self, p: int) -> None:
        self.states.pop(p, None)
        self.offsets.pop(p, None)
        self.rollouts.pop(p, None)

    def save(self, partitions: Iterable[int]) -> tuple[int, list[TopicPartition]]:
        """Write the checkpoint of each held partition in `partitions`: the bytes written and the offsets
        those checkpoints reflect, to commit."""
        total = 0
        commits: list[TopicPartition] = []
        for p in partitions:
            state = self.states.get(p)
            if state is None:
                continue
            offsets = dict(self.offsets.get(p, {}))
            total += self.store.save(Checkpoint(p, offsets, state, self.rollouts.get(p)))
            commits.extend(TopicPartition(t, p, o) for t, o in offsets.items())
        return total, commits

    def report(self) -> None:
        """The gauges of what is held: monitored versions, open trials, ratings waiting, unattributed."""
        metrics.MONITORED_VERSIONS.set(sum(len(s) for s in self.states.values()))
        judges = list(self.rollouts.values())
        for kind in ("canary", "guard"):
            attr = "canary_trial" if kind == "canary" else "guard"
            metrics.ROLLOUT_TRIALS.labels(kind).set(
                sum(getattr(a, attr) is not None for j in judges for a in j.adapters.values()))
        metrics.ROLLOUT_RATINGS_WAITING.set(sum(j.queue.waiting for j in judges))
        metrics.ROLLOUT_UNATTRIBUTED.set(sum(j.unattributed for j in judges))

    def record_delivery(self, decision_id: str, outcome: str, detail: str | None) -> bool:
        """The sender's outcome for a verdict, kept in its judge's state; whether a judge held that verdict."""
        found = False
        for judge in self.rollouts.values():
            verdict = judge.find(decision_id)
            if verdict is not None:
                verdict.delivery = outcome  # type: ignore[assignment]
                verdict.detail = detail
                found = True
        return found

    # -- read-only views (take the lock) -------------------------------------------------------
    def partitions(self) -> list[int]:
        with self.lock:
            return sorted(self.states)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(m, partition=p) for p, s in self.states.items() for m in s.snapshot()]

    def rollout_snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(a, partition=p) for p, j in self.rollouts.items() for a in j.snapshot()]

    def series(self, adapter: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(m, partition=p) for p, s in self.states.items() for m in s.series(adapter)]
