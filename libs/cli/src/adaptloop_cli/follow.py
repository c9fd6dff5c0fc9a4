"""Follow a training job by polling the trainer until it reaches a final state, with a progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable

from adaptloop_contracts.trainer_api import JobRecord
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

from adaptloop_cli.clients.trainer import FINAL_STATES, TrainerClient
from adaptloop_cli.errors import CliError, JobDidNotSucceed, ServiceUnreachable

MAX_CONSECUTIVE_POLL_FAILURES = 5


def follow_job(trainer: TrainerClient, job_id: str, *, console: Console, poll_interval_s: float,
               sleep: Callable[[float], None] = time.sleep, timeout_s: float | None = None) -> JobRecord:
    """Poll `GET /v1/jobs/{id}` until the job is final; a few unanswered polls in a row are tolerated."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    failures = 0
    job: JobRecord | None = None
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task(f"job {job_id[:8]} queued", total=1.0)
        while True:
            try:
                job = trainer.job(job_id)
                failures = 0
            except ServiceUnreachable:
                failures += 1
                if failures >= MAX_CONSECUTIVE_POLL_FAILURES:
                    raise
            else:
                state = job.state
                done = 1.0 if state == "succeeded" else float(job.progress)
                progress.update(task, completed=done, description=f"{job.adapter} job {job_id[:8]} {state}")
                if state in FINAL_STATES:
                    return job
            if deadline is not None and time.monotonic() >= deadline:
                raise CliError(f"job {job_id} is still {job.state if job else 'unknown'} after {timeout_s:g}s",
                               hint=f"it keeps running; check later with `adaptloop jobs` (job {job_id})")
            sleep(poll_interval_s)


def print_outcome(job: JobRecord, console: Console) -> None:
    """Summarise a final job; `JobDidNotSucceed` (exit 3) unless it succeeded."""
    state = job.state
    verdict = (job.evaluation or {}).get("verdict")
    if state == "succeeded":
        candidate = job.candidate_version
        console.print(f"[green]job {job.job_id} succeeded[/]"
                      + (f": candidate v{candidate}" if candidate is not None else "")
                      + (f" ({verdict})" if verdict else ""), highlight=False)
        return
    reason = job.error or verdict or "no reason given"
    raise JobDidNotSucceed(f"job {job.job_id} for {job.adapter} ended {state}: {reason}",
                           hint=f"see `adaptloop jobs --adapter {job.adapter}` and the trainer's log "
                                "(var/log/trainer.log)")
