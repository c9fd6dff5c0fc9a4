"""The signal consumer in two child processes of one drift worker, through the real broker.

Partitions spread over both children and the worker's API answers with both children's state and
metrics; SIGTERM leaves every partition checkpointed and committed, so the next life reads only new
events; a killed child is reported by readiness and started again without losing or double-counting
a rating; children of a killed worker stop by themselves.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import httpx
import pytest
from adaptloop_contracts import TopicNames
from adaptloop_devstack.waiting import wait_for
from adaptloop_drift.infra.checkpoints import CheckpointStore
from adaptloop_drift.synthetic import errors, make_feedback, make_log
from adaptloop_kafka import EventProducer
from confluent_kafka import Consumer, TopicPartition
from drift_testkit import DriftProcess

ADAPTERS = [f"spread-{i}" for i in range(16)]
HELD = re.compile(r"process (\d+) \(pid (\d+)\) partitions \[([\d, ]*)\]")


@pytest.fixture(autouse=True)
def two_processes(drift_service: DriftProcess) -> None:
    drift_service.env_extra["ADAPTLOOP_DRIFT_SIGNAL_PROCESSES"] = "2"


Children = dict[int, tuple[int, list[int]]]
"""Signal process index -> (pid, partitions)."""


def _children(service: DriftProcess) -> Children:
    """Signal process index -> (pid, partitions), from the readiness check's detail."""
    detail = httpx.get(f"{service.url}/readyz", timeout=10).json()["checks"]["signals"]["detail"]
    return {int(i): (int(pid), [int(p) for p in parts.split(",") if p.strip()])
            for i, pid, parts in HELD.findall(detail)}


def _publish(producer: EventProducer, start: int, count: int, seed: int) -> int:
    """`count` ratings per adapter (and one log each on the first call); returns the ratings sent."""
    errs = errors([0.2] * count, seed=seed)
    for adapter in ADAPTERS:
        if start == 0:
            producer.publish("inference.logs", make_log(adapter, 0, seed=seed))
        for i in range(start, start + count):
            producer.publish("inference.feedback", make_feedback(adapter, i, errs[i - start], seed=seed, version=1))
    assert producer.flush(30.0) == 0
    return count * len(ADAPTERS)


def _start_and_rate(service: DriftProcess, producer: EventProducer, count: int, seed: int) -> tuple[Children, int]:
    """Start the worker and note its signal processes; publish `count` ratings per adapter and wait until
    all are counted. Returns the signal processes and the ratings sent."""
    service.start()
    children = _children(service)
    sent = _publish(producer, 0, count, seed=seed)
    assert service.wait_for_ratings(sent, timeout_s=90) == sent
    return children, sent


def _metric(service: DriftProcess, name: str) -> float:
    text = httpx.get(f"{service.url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith((f"{name}{{", f"{name} ")))


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_partitions_spread_over_two_processes_and_the_api_gathers_both(drift_service: DriftProcess,
                                                                       producer: EventProducer) -> None:
    drift_service.start()
    children = _children(drift_service)
    assert sorted(children) == [0, 1], children
    held = {i: set(parts) for i, (_, parts) in children.items()}
    assert held[0] and held[1] and not held[0] & held[1] and held[0] | held[1] == {0, 1, 2, 3}
    assert all(pid != drift_service.proc.pid for pid, _ in children.values())  # type: ignore[union-attr]

    sent = _publish(producer, 0, 50, seed=21)
    assert drift_service.wait_for_ratings(sent, timeout_s=90) == sent
    state = httpx.get(f"{drift_service.url}/v1/state", timeout=10).json()["adapters"]
    assert {v["adapter"] for v in state} == set(ADAPTERS)
    partitions = {v["partition"] for v in state}
    assert partitions & held[0] and partitions & held[1], "adapters of both processes in the worker's state"
    one = next(v for v in state if v["partition"] in held[1])
    signals = httpx.get(f"{drift_service.url}/v1/adapters/{one['adapter']}/signals", timeout=10).json()
    assert signals["versions"][0]["ratings"] == 50
    # every child's counters, added up under the one name (and declared once)
    text = httpx.get(f"{drift_service.url}/metrics", timeout=10).text
    assert text.count("# TYPE adaptloop_drift_events_total counter") == 1
    assert _metric(drift_service, "adaptloop_drift_events_total") == sent + len(ADAPTERS)
    assert 'adaptloop_drift_signal_mean_coded{adapter="spread-' in text


def test_sigterm_checkpoints_and_commits_every_partition(drift_service: DriftProcess, producer: EventProducer,
                                                         topics: TopicNames, kafka_bootstrap: str,
                                                         reader_factory) -> None:
    children, first = _start_and_rate(drift_service, producer, 40, seed=22)
    drift_service.stop(signal.SIGTERM)
    assert drift_service.proc is not None and drift_service.proc.returncode == 0, drift_service.tail()
    wait_for("the signal processes to exit", lambda: all(_gone(pid) for pid, _ in children.values()), 30.0, 0.2)

    feedback, logs = topics("inference.feedback"), topics("inference.logs")
    msgs = reader_factory([feedback, logs]).poll_until(
        lambda m: len(m[feedback]) == first and len(m[logs]) == len(ADAPTERS), timeout_s=60)
    ends: dict[tuple[str, int], int] = {(t, p): 0 for t in (feedback, logs) for p in range(4)}
    for topic, seen in msgs.items():
        for m in seen:
            ends[(topic, m.partition())] = max(ends[(topic, m.partition())], m.offset() + 1)
    probe = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"{topics.prefix}adaptloop-drift-signals",
                      "enable.auto.commit": False})
    try:
        committed = {(tp.topic, tp.partition): max(tp.offset, 0)
                     for tp in probe.committed([TopicPartition(t, p) for t, p in ends], timeout=10)}
    finally:
        probe.close()
    assert committed == ends, "every partition committed up to its end on SIGTERM"
    store = CheckpointStore(drift_service.data_dir, f"{topics.prefix}adaptloop-drift")
    for p in range(4):
        ckpt = store.load(p)
        assert ckpt is not None
        assert ckpt.offsets.get(feedback, 0) == ends[(feedback, p)] and ckpt.offsets.get(logs, 0) == ends[(logs, p)]

    drift_service.start()
    second = _publish(producer, 40, 10, seed=23)
    assert drift_service.wait_for_ratings(first + second, timeout_s=90) == first + second
    # the new life read only what came after the stop: nothing replayed, nothing counted twice
    assert _metric(drift_service, "adaptloop_drift_events_total") == second


def test_a_killed_process_is_seen_by_readiness_and_started_again(drift_service: DriftProcess,
                                                                 producer: EventProducer) -> None:
    children, first = _start_and_rate(drift_service, producer, 30, seed=24)
    victim, _ = children[1]
    os.kill(victim, signal.SIGKILL)

    def reported() -> str | None:
        ready = httpx.get(f"{drift_service.url}/readyz", timeout=10)
        detail = ready.json()["checks"]["signals"]["detail"]
        return detail if ready.status_code == 503 and "signal process 1" in detail else None

    detail = wait_for("readiness to report the killed process", reported, 30.0, 0.05)
    assert "exited with code -9" in detail or "is gone" in detail, detail
    wait_for("the worker to be ready again", lambda: httpx.get(f"{drift_service.url}/readyz", timeout=10)
             .status_code == 200, 120.0, 0.3)
    again = _children(drift_service)
    assert again[1][0] != victim and again[0][0] == children[0][0]
    assert _metric(drift_service, "adaptloop_drift_signal_process_exits_total") == 1
    second = _publish(producer, 30, 10, seed=25)
    # the killed process's partitions were restored from their checkpoints: every rating once
    assert drift_service.wait_for_ratings(first + second, timeout_s=90) == first + second


def test_processes_of_a_killed_worker_stop_by_themselves(drift_service: DriftProcess,
                                                         producer: EventProducer) -> None:
    children, first = _start_and_rate(drift_service, producer, 20, seed=26)
    drift_service.stop(signal.SIGKILL)
    wait_for("the orphaned signal processes to exit", lambda: all(_gone(pid) for pid, _ in children.values()),
             30.0, 0.2)
    drift_service.start()
    second = _publish(producer, 20, 10, seed=27)
    assert drift_service.wait_for_ratings(first + second, timeout_s=90) == first + second
