"""The signal consumer in child processes of the drift worker, so its partitions spread over cores.

The hot path is Python per event under one GIL: one process reads at most what one core does.
With `SIGNAL_PROCESSES` > 1 the worker starts that many children (multiprocessing, spawn), each
with its own `SignalConsumer`, producer, checkpoint store and `DecisionSender`, all members of the
one group `<app id>-signals`: the broker spreads the partitions over them (range assignment, so
partition p of every topic still lands in one child, with its checkpoint file). The worker keeps
the faust policy agent and the HTTP API; the API's answers are gathered from the children over a
pipe per child (a request, its answer): detector and judge state, signal series, readiness (with
the partitions each child holds), and the children's Prometheus samples, which `GatheredMetrics`
(`gathered_metrics`) adds to the worker's own under the same names.

This module is the child's side (`run_child`, and `build_signal_consumer`, which the worker also uses
for a consumer in a thread); the worker's side, which starts, asks and restarts the children, is
`signal_supervisor.SignalProcesses`.

Lifecycle of a child:
- The children start together, so they all join the group's first generation.
- SIGTERM or SIGINT to a child (the worker sends SIGTERM when it stops): the consumer stops,
  writes its final checkpoint and commits its offsets; the child exits 0 without leaving the group,
  which drops it after the session timeout (see `run_child`).
- The worker dies (killed): the child sees its pipe closed (or its parent changed) within half a
  second and stops the same way.
- A child that dies is started again by the worker (see `signal_supervisor`); the group hands its
  partitions to the new one, which restores them from their checkpoints.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any, Protocol

from adaptloop_common.telemetry import init_telemetry, shutdown_telemetry
from adaptloop_contracts import TopicNames
from adaptloop_kafka import EventProducer

from adaptloop_drift import novelty
from adaptloop_drift.config import Settings
from adaptloop_drift.infra.checkpoints import CheckpointStore
from adaptloop_drift.infra.gathered_metrics import local_samples
from adaptloop_drift.infra.registry_decisions import DecisionSender
from adaptloop_drift.infra.signal_consumer import SignalConsumer

log = logging.getLogger(__name__)


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
    novelty.use_native(settings.native_novelty)  # in this process: a signal process starts with the default
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
