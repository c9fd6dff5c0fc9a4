"""The signal consumer in child processes of the drift worker, so its partitions spread over cores.

The hot path is Python per event under one GIL: one process reads at most what one core does.
With `SIGNAL_PROCESSES` > 1 the worker starts that many children (multiprocessing, spawn), each
with its own `SignalConsumer`, producer, checkpoint store and `DecisionSender`, all members of the
one group `<app id>-signals`: the broker spreads the partitions over them (range assignment, so
partition p of every topic still lands in one child, with its checkpoint file). The worker keeps
the faust policy agent and the HTTP API; the API's answers are gathered from the children over a
pipe per child (a request, its answer): detector and judge state, signal series, readiness (with
the partitions each child holds), and the children's Prometheus samples, which `GatheredMetrics`
adds to the worker's own under the same names.

Lifecycle:
- The children start together, so they all join the group's first generation.
- SIGTERM or SIGINT to a child (the worker sends SIGTERM when it stops): the consumer stops,
  writes its final checkpoint and commits its offsets; the child exits 0 without leaving the group,
  which drops it after the session timeout (see `run_child`).
- The worker dies (killed): the child sees its pipe closed (or its parent changed) within half a
  second and stops the same way.
- A child that dies is reported by `/readyz` (its exit code) and counted in
  `adaptloop_drift_signal_process_exits_total`; the worker starts it again after 1 s (doubling up
  to 30 s while it keeps dying within a minute of its start). The other children keep their
  partitions meanwhile; the group hands the dead child's to the new one, which restores them from
  their checkpoints.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any, Protocol

from adaptloop_common.telemetry import init_telemetry, shutdown_telemetry
from adaptloop_contracts import TopicNames
from adaptloop_kafka import EventProducer
from prometheus_client import REGISTRY
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from adaptloop_drift.config import Settings
from adaptloop_drift.infra import metrics
from adaptloop_drift.infra.checkpoints import CheckpointStore
from adaptloop_drift.infra.registry_decisions import DecisionSender
from adaptloop_drift.infra.signal_consumer import SignalConsumer

log = logging.getLogger(__name__)
SPAWN = multiprocessing.get_context("spawn")
ANSWER_TIMEOUT_S = 5.0
"""How long the worker waits for a child's answer before reporting it as not answering."""
RESTART_BACKOFF_S = (1.0, 30.0)
"""A dead child is started again after the first, doubling up to the second while it keeps dying young."""
STABLE_AFTER_S = 60.0
METRIC_PREFIX = "adaptloop_"

Samples = list[tuple[str, list[tuple[str, dict[str, str], float]]]]
"""Prometheus families as plain tuples: `[(family name, [(sample name, labels, value)])]`."""


class SignalSource(Protocol):
    """What the worker's entry point and HTTP API use of the signal consumer, in a thread or in processes."""

    def start(self) -> None: ...

    def stop(self, timeout_s: float = 30.0) -> None: ...

    def snapshot(self) -> list[dict[str, Any]]: ...

    def rollout_snapshot(self) -> list[dict[str, Any]]: ...

    def series(self, adapter: str) -> list[dict[str, Any]]: ...

    def readiness(self) -> tuple[bool, str]: ...


def build_signal_consumer(settings: Settings, producer: EventProducer) -> tuple[SignalConsumer, DecisionSender | None]:
    """One signal consumer with its checkpoint store and (when verdicts are sent) its decision sender."""
    decisions = None
    if settings.rollout_enabled and settings.registry_token is not None:
        decisions = DecisionSender(
            base_url=settings.registry_url, token=settings.registry_token.get_secret_value(),
            timeout_s=settings.registry_timeout_s, attempts=settings.rollout_delivery_attempts,
            on_outcome=lambda decision_id, outcome, detail: signals.record_delivery(decision_id, outcome, detail),
        )
    signals = SignalConsumer(
        bootstrap=settings.kafka,
        topics=TopicNames(settings.topic_prefix),
        group_id=f"{settings.app_id}-signals",
        producer=producer,
        store=CheckpointStore(settings.data_dir, settings.app_id),
        monitor_config=settings.monitor_config(),
        max_adapters=settings.max_adapters,
        checkpoint_interval_s=settings.checkpoint_interval_s,
        rollout_config=settings.rollout_config(),
        decisions=decisions,
        stall_after_s=settings.stall_after_s,
    )
    return signals, decisions


# -- the child ------------------------------------------------------------------------------
def local_samples() -> Samples:
    """This process's `adaptloop_*` Prometheus samples."""
    return [(fam.name, [(s.name, dict(s.labels), float(s.value)) for s in fam.samples])
            for fam in REGISTRY.collect() if fam.name.startswith(METRIC_PREFIX)]


def _answer(signals: SignalConsumer, request: str, args: tuple[Any, ...]) -> Any:
    if request == "snapshot":
        return signals.snapshot()
    if request == "rollout":
        return signals.rollout_snapshot()
    if request == "series":
        return signals.series(*args)
    if request == "status":
        return {"ready": signals.readiness(), "partitions": signals.partitions()}
    if request == "metrics":
        return local_samples()
    raise ValueError(f"unknown request {request!r}")


def run_child(settings: Settings, index: int, conn: Connection, parent_pid: int) -> None:
    """A child's whole life: its consumer runs in a thread; this thread answers the worker until told to stop."""
    init_telemetry("adaptloop-drift", log_level=settings.log_level)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    producer = EventProducer(settings.kafka, topics=TopicNames(settings.topic_prefix),
                             client_id=f"{settings.app_id}-signals-{index}")
    signals, decisions = build_signal_consumer(settings, producer)
    signals.start()
    if decisions is not None:
        decisions.start()
    log.info("signal process %d (pid %d) started", index, os.getpid())
    code = 0
    orphaned = False
    try:
        while not stop.is_set():
            if not signals.alive:
                log.error("signal process %d: the consumer stopped (%s); exiting", index, signals.failure)
                code = 1
                break
            if os.getppid() != parent_pid:
                log.warning("signal process %d: the worker (pid %d) is gone; stopping", index, parent_pid)
                orphaned = True
                break
            try:
                if not conn.poll(0.5):
                    continue
                seq, request, args = conn.recv()
            except (EOFError, OSError):
                log.warning("signal process %d: the worker's pipe closed; stopping", index)
                orphaned = True
                break
            try:
                answer: Any = _answer(signals, request, args)
            except Exception as exc:
                answer = RuntimeError(f"{type(exc).__name__}: {exc}")
            try:
                conn.send((seq, answer))
            except OSError:
                break
    finally:
        # The final checkpoint and commit, but no LeaveGroup: the group drops this member after its session
        # timeout (6 s), as it drops a killed worker's. Several members leaving while new ones join (a worker
        # restarted, or started while an orphaned child still stops) kept the local tansu broker from forming
        # the group for minutes; a member that just expires never did.
        signals.stop(timeout_s=settings.shutdown_timeout_s, leave_group=False)
        if decisions is not None:
            decisions.stop(timeout_s=2.0)
        producer.flush(5.0)
        log.info("signal process %d (pid %d) stopped%s", index, os.getpid(), " (worker gone)" if orphaned else "")
        shutdown_telemetry()
    if signals.failure is not None or signals.alive:
        code = 1  # the final checkpoint failed, or did not finish in time
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)  # no destructors: closing the consumer would leave the group after all


# -- the worker's side -----------------------------------------------------------------------
class ChildUnavailable(Exception):
    """A child that is not running or did not answer in time."""


@dataclass
class _Child:
    index: int
    process: Any = None
    conn: Connection | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    seq: int = 0
    started_at: float = 0.0
    restart_at: float = 0.0
    backoff_s: float = RESTART_BACKOFF_S[0]
    exits: int = 0
    last_exit: str | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def ask(self, request: str, *args: Any, timeout_s: float = ANSWER_TIMEOUT_S) -> Any:
        with self.lock:
            if self.conn is None or self.process is None:
                raise ChildUnavailable(f"signal process {self.index} is not running")
            self.seq += 1
            try:
                self.conn.send((self.seq, request, args))
                deadline = time.monotonic() + timeout_s
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self.conn.poll(remaining):
                        raise ChildUnavailable(f"signal process {self.index} did not answer within {timeout_s:.0f} s")
                    seq, answer = self.conn.recv()
                    if seq == self.seq:  # an answer that came too late for an earlier request is dropped
                        break
            except (EOFError, OSError) as exc:
                raise ChildUnavailable(f"signal process {self.index} is gone ({type(exc).__name__})") from exc
        if isinstance(answer, Exception):
            raise answer
        return answer


class SignalProcesses:
    """`count` children running the signal consumer, started again when one dies (see the module doc)."""

    def __init__(self, settings: Settings, count: int) -> None:
        self._settings = settings
        self._children = [_Child(i) for i in range(count)]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor: threading.Thread | None = None

    @property
    def count(self) -> int:
        return len(self._children)

    def pids(self) -> list[int | None]:
        return [c.pid for c in self._children]

    def start(self) -> None:
        """Start every child (together, so they join the group's first generation), then watch them."""
        with self._lock:
            for child in self._children:
                self._spawn(child)
        self._supervisor = threading.Thread(target=self._supervise, name="drift-signal-processes", daemon=True)
        self._supervisor.start()

    def _spawn(self, child: _Child) -> None:
        ours, theirs = SPAWN.Pipe()
        process = SPAWN.Process(target=run_child, args=(self._settings, child.index, theirs, os.getpid()),
                                name=f"drift-signals-{child.index}", daemon=True)
        process.start()
        theirs.close()  # only the child holds its end: its death closes the pipe for us
        with child.lock:
            child.process, child.conn = process, ours
            child.started_at = time.monotonic()
        log.info("signal process %d started (pid %d)", child.index, process.pid)

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            for child in self._children:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self._check(child)

    def _check(self, child: _Child) -> None:
        now = time.monotonic()
        process = child.process
        if process is not None and not process.is_alive():
            process.join(0)
            young = now - child.started_at < STABLE_AFTER_S
            child.backoff_s = min(child.backoff_s * 2, RESTART_BACKOFF_S[1]) if young and child.exits else \
                RESTART_BACKOFF_S[0]
            child.exits += 1
            child.last_exit = f"exited with code {process.exitcode}"
            child.restart_at = now + child.backoff_s
            metrics.SIGNAL_PROCESS_EXITS.inc()
            log.error("signal process %d (pid %d) %s after %.0f s; starting it again in %.0f s", child.index,
                      process.pid, child.last_exit, now - child.started_at, child.backoff_s)
            with child.lock:
                if child.conn is not None:
                    child.conn.close()
                child.process, child.conn = None, None
        if child.process is None and now >= child.restart_at:
            self._spawn(child)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM to every child (each writes its final checkpoint and commits), then wait; kill what remains."""
        with self._lock:
            self._stopping.set()
        running = [c.process for c in self._children if c.process is not None]
        for process in running:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + timeout_s
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("signal process (pid %d) did not stop within %.0f s; killing it", process.pid, timeout_s)
                process.kill()
                process.join(5.0)
        for child in self._children:
            with child.lock:
                if child.conn is not None:
                    child.conn.close()
                child.conn = None

    # -- gathered answers ------------------------------------------------------------------
    def _gather(self, request: str, *args: Any) -> list[Any]:
        """Every running child's answer (a child that cannot answer is left out: readiness names it)."""
        answers = []
        for child in self._children:
            try:
                answers.append(child.ask(request, *args))
            except ChildUnavailable as exc:
                log.debug("%s", exc)
        return answers

    def snapshot(self) -> list[dict[str, Any]]:
        return [entry for answer in self._gather("snapshot") for entry in answer]

    def rollout_snapshot(self) -> list[dict[str, Any]]:
        return [entry for answer in self._gather("rollout") for entry in answer]

    def series(self, adapter: str) -> list[dict[str, Any]]:
        return [entry for answer in self._gather("series", adapter) for entry in answer]

    def samples(self) -> list[Samples]:
        return self._gather("metrics")

    def readiness(self) -> tuple[bool, str]:
        problems: list[str] = []
        held: list[str] = []
        for child in self._children:
            process = child.process
            if process is None or not process.is_alive():
                what = child.last_exit or (f"exited with code {process.exitcode}" if process is not None
                                           else "not started")
                problems.append(f"signal process {child.index} {what}; starting it again")
                continue
            try:
                status = child.ask("status")
            except ChildUnavailable as exc:
                problems.append(str(exc))
                continue
            ok, detail = status["ready"]
            if not ok:
                problems.append(f"signal process {child.index} (pid {process.pid}): {detail}")
            held.append(f"process {child.index} (pid {process.pid}) partitions {status['partitions']}")
        if problems:
            return False, "; ".join(problems)
        return True, f"partitions assigned, advancing: {'; '.join(held)}"


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
                for (name, labels), value in values.items():
                    out.add_sample(name, dict(labels), value)
                yield out


def gather_metrics(processes: SignalProcesses, shared: Sequence[Collector]) -> None:
    """Answer `shared` on the worker's /metrics as the worker's and the children's samples together (once, from
    `main`): they leave the default registry and come back inside one `GatheredMetrics`."""
    for collector in shared:
        REGISTRY.unregister(collector)
    REGISTRY.register(GatheredMetrics(shared, processes.samples))
