"""Runs jobs one at a time in a worker thread, away from the consumer's poll loop and HTTP.

Every job ends in a recorded final state: succeeded, rejected (bad request, too little data,
or a candidate that failed the gate), cancelled or failed (exception, NaN loss, out of
memory, too many restarts). Each state change is published on `training.events`.
A job that loses its database (or gets a 503 from the registry or ingest) does not fail: the
runner waits until the database answers again and resumes it from its checkpoint.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from adaptloop_common.database import is_database_unavailable, retry_while_unavailable, wait_for_database
from adaptloop_contracts import TrainingEvent, TrainingState
from opentelemetry import propagate, trace
from opentelemetry.trace import Link

from adaptloop_trainer.candidate import TrainerParams
from adaptloop_trainer.errors import JobCancelled, JobRejected, TrainerError, UpstreamUnavailable
from adaptloop_trainer.jobs import Job, JobStore
from adaptloop_trainer.metrics import JOBS_ACTIVE, JOBS_FINISHED, JOBS_INTERRUPTED
from adaptloop_trainer.ports import ExampleSource, Registry, TrainingEvents
from adaptloop_trainer.training_job import JobOutcome, run_train_job
from adaptloop_trainer.upgrade import run_upgrade_job

log = logging.getLogger(__name__)
tracer = trace.get_tracer("adaptloop.trainer")

TRAINING_SHARE = 0.9
"""Share of a job's progress bar covered by the training loop; evaluation and registration follow."""


class JobRunner:
    def __init__(self, *, store: JobStore, registry: Registry, examples: ExampleSource, events: TrainingEvents,
                 params: TrainerParams, max_attempts: int = 3, warm_up: Callable[[], float] | None = None) -> None:
        """`warm_up` runs first in the job thread (jobs queue meanwhile): the service imports its training
        stack there, so that no job pays for it; it returns the seconds it took."""
        self._store, self._registry, self._examples, self._events = store, registry, examples, events
        self._params, self._max_attempts = params, max_attempts
        self._warm_up = warm_up
        self._queue: queue.Queue[uuid.UUID | None] = queue.Queue()
        self._pending: set[uuid.UUID] = set()
        self._cancel: dict[uuid.UUID, threading.Event] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="trainer-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        for flag in list(self._cancel.values()):
            flag.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def recover(self) -> int:
        """Queue every job a previous process left unfinished (they resume from their checkpoints)."""
        jobs = self._store.unfinished()
        for job in jobs:
            self.submit(job.job_id)
        return len(jobs)

    def submit(self, job_id: uuid.UUID) -> None:
        with self._lock:
            if job_id in self._pending:
                return
            self._pending.add(job_id)
            self._cancel[job_id] = threading.Event()
            JOBS_ACTIVE.set(len(self._pending))
        self._queue.put(job_id)

    def cancel(self, job_id: uuid.UUID) -> Job | None:
        job = self._store.request_cancel(job_id)
        if job is None or job.is_final:
            return job
        flag = self._cancel.get(job_id)
        if flag is not None:
            flag.set()
        if job.state == TrainingState.QUEUED and job_id not in self._pending:
            return self._finish(job, TrainingState.CANCELLED, error="cancelled before it started")
        return job

    def _loop(self) -> None:
        if self._warm_up is not None:
            try:
                log.info("training stack imported in %.1f s", self._warm_up())
            except Exception:  # not fatal: a job imports what it needs itself and fails with the reason
                log.exception("warming up the job thread failed")
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            interrupted: _Interrupted | None = None
            try:
                self._execute(job_id)
            except _Interrupted as exc:
                interrupted = exc
            except Exception as exc:
                if _is_outage(exc):
                    interrupted = _Interrupted(counted_attempt=False)
                else:
                    log.exception("job %s: unexpected error outside the job", job_id)
            finally:
                with self._lock:
                    self._pending.discard(job_id)
                    self._cancel.pop(job_id, None)
                    JOBS_ACTIVE.set(len(self._pending))
            if interrupted is not None:
                self._resume_after_outage(job_id, interrupted)

    def _resume_after_outage(self, job_id: uuid.UUID, interrupted: _Interrupted) -> None:
        """Wait until the database answers, give back the attempt the outage took, and queue the job again."""
        JOBS_INTERRUPTED.inc()
        log.warning("job %s interrupted by an outage (%s); resuming once the database answers", job_id,
                    interrupted.__cause__)
        self._stopping.wait(1.0)  # a 503 upstream has no ping of ours: give it a moment
        if not wait_for_database(self._store.ping, should_stop=self._stopping.is_set, where="trainer:jobs"):
            return  # stopping: the next process recovers the job from the database
        if interrupted.counted_attempt:
            job = self._store.get(job_id)
            if job is not None and not job.is_final and job.attempts > 0:
                self._store.update(job_id, attempts=job.attempts - 1)
        self.submit(job_id)

    def _emit(self, job: Job, state: TrainingState, **fields: Any) -> None:
        event = TrainingEvent(
            event_type="training.progress" if fields.pop("progress_event", False) else f"training.{state.value}",
            model=job.adapter, job_id=job.job_id, request_id=job.request_id, state=state, **fields,
        )
        try:
            self._events.job_event(event)
        except Exception as exc:
            log.warning("job %s: training event not published: %s", job.job_id, exc)

    def _finish(self, job: Job, state: TrainingState, *, error: str | None = None,
                outcome: JobOutcome | None = None) -> Job:
        fields: dict[str, Any] = {"state": state, "error": error}
        if outcome is not None:
            fields.update(candidate_version=outcome.candidate_version, metrics=outcome.metrics,
                          evaluation=outcome.evaluation, progress=1.0)
            if outcome.report is not None:
                fields["report"] = outcome.report
        job = retry_while_unavailable(lambda: self._store.update(job.job_id, **fields),
                                      should_stop=self._stopping.is_set, where="trainer:finish")
        JOBS_FINISHED.labels(state.value).inc()
        self._emit(job, state, progress=job.progress, metrics=_event_metrics(job.metrics),
                   candidate_version=job.candidate_version, error=error)
        if state != TrainingState.FAILED:
            shutil.rmtree(self._params.checkpoint_dir(job.job_id), ignore_errors=True)
        log.info("job %s (%s) %s%s", job.job_id, job.adapter, state.value, f": {error}" if error else "")
        return job

    def _execute(self, job_id: uuid.UUID) -> None:
        job = self._store.get(job_id)
        if job is None or job.is_final:
            return
        if job.cancel_requested:
            self._finish(job, TrainingState.CANCELLED, error="cancelled before it started")
            return
        if job.attempts >= self._max_attempts:
            self._finish(job, TrainingState.FAILED,
                         error=f"gave up after {job.attempts} attempts: the trainer stopped during each one")
            return
        if job.state == TrainingState.QUEUED and job.attempts == 0:
            self._emit(job, TrainingState.QUEUED)
        job = self._store.update(job_id, state=TrainingState.RUNNING, attempts=job.attempts + 1)
        self._emit(job, TrainingState.RUNNING, progress=job.progress)
        parent = propagate.extract({"traceparent": job.traceparent} if job.traceparent else {})
        link_ctx = trace.get_current_span(parent).get_span_context()
        links = [Link(link_ctx)] if link_ctx.is_valid else []
        with tracer.start_as_current_span("run_training_job", context=parent, links=links,
                                          attributes={"adaptloop.job_id": str(job_id), "adaptloop.model": job.adapter}):
            self._run(job)

    def _run(self, job: Job) -> None:
        flag = self._cancel.get(job.job_id) or threading.Event()
        last = [0.0]

        def on_progress(step: int, total: int, loss: float) -> None:
            now = time.monotonic()
            if step != total and now - last[0] < 1.0:
                return
            last[0] = now
            progress = round(TRAINING_SHARE * step / total, 4)
            try:
                self._store.update(job.job_id, progress=progress)
            except Exception as exc:
                if not is_database_unavailable(exc):
                    raise
                log.warning("job %s: progress %.2f not recorded, database unavailable", job.job_id, progress)
            self._emit(job, TrainingState.RUNNING, progress=progress, progress_event=True,
                       metrics={"step": step, "steps": total, "loss": loss})

        def on_wait(have: int, wanted: int) -> None:
            now = time.monotonic()
            if have < wanted and now - last[0] < 5.0:
                return
            last[0] = now
            self._emit(job, TrainingState.RUNNING, progress=0.0, progress_event=True,
                       metrics={"phase": "waiting_for_examples", "new_examples": have, "wanted": wanted})

        try:
            if job.kind == "upgrade":
                outcome = run_upgrade_job(job, store=self._store, registry=self._registry, params=self._params,
                                          on_progress=on_progress, should_stop=flag.is_set)
            else:
                outcome = run_train_job(job, store=self._store, registry=self._registry, examples=self._examples,
                                        params=self._params, on_progress=on_progress, should_stop=flag.is_set,
                                        on_wait=on_wait)
        except JobRejected as exc:
            self._finish(job, TrainingState.REJECTED, error=exc.reason)
        except JobCancelled as exc:
            self._finish(job, TrainingState.CANCELLED, error=exc.reason)
        except Exception as exc:
            if _is_outage(exc):
                raise _Interrupted(counted_attempt=True) from exc
            if isinstance(exc, TrainerError):
                self._finish(job, TrainingState.FAILED, error=f"{type(exc).__name__}: {exc.reason}")
            else:
                log.exception("job %s failed", job.job_id)
                self._finish(job, TrainingState.FAILED, error=f"{type(exc).__name__}: {exc}")
        else:
            if outcome.passed or job.kind == "upgrade":
                self._finish(job, TrainingState.SUCCEEDED, outcome=outcome)
            else:
                self._finish(job, TrainingState.REJECTED, outcome=outcome,
                             error=f"candidate v{outcome.candidate_version} failed the evaluation gate: "
                                   f"{outcome.verdict}")


class _Interrupted(Exception):
    """A job run stopped by an outage; `counted_attempt` says whether it had counted as an attempt."""

    def __init__(self, *, counted_attempt: bool) -> None:
        super().__init__("interrupted by an outage")
        self.counted_attempt = counted_attempt


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, UpstreamUnavailable) or is_database_unavailable(exc)


def _event_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Scalar metrics and the phase timings only, so the event stays small."""
    out: dict[str, Any] = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) or v is None}
    timings = metrics.get("timings")
    if isinstance(timings, dict):
        out["timings"] = {k: v for k, v in timings.items() if isinstance(v, (int, float))}
    return out
