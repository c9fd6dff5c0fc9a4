"""The worker's side of its signal processes (`signal_processes`): `SignalProcesses`.

It starts the children together, so they all join the group's first generation; asks each over its
pipe (a request, its answer) and gathers the answers for the HTTP API; sends SIGTERM to each when the
worker stops. A child that dies is reported by `/readyz` (its exit code) and counted in
`adaptloop_drift_signal_process_exits_total`; it is started again after 1 s (doubling up to 30 s
while it keeps dying within a minute of its start). The other children keep their partitions
meanwhile; the group hands the dead child's to the new one, which restores them from their checkpoints.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from adaptloop_drift import metrics
from adaptloop_drift.config import Settings
from adaptloop_drift.infra.gathered_metrics import Samples
from adaptloop_drift.infra.signal_processes import run_child

log = logging.getLogger(__name__)
SPAWN = multiprocessing.get_context("spawn")
ANSWER_TIMEOUT_S = 5.0
"""How long the worker waits for a child's answer before reporting it as not answering."""
RESTART_BACKOFF_S = (1.0, 30.0)
"""A dead child is started again after the first, doubling up to the second while it keeps dying young."""
STABLE_AFTER_S = 60.0


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
