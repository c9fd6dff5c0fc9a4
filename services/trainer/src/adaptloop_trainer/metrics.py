"""Prometheus metrics of the trainer (the job runner); served at `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

JOBS_FINISHED = Counter("adaptloop_trainer_jobs_finished_total", "Jobs that reached a final state", ["state"])
JOBS_ACTIVE = Gauge("adaptloop_trainer_jobs_active", "Jobs queued or running in this process")
JOBS_INTERRUPTED = Counter("adaptloop_trainer_jobs_interrupted_total",
                           "Job runs stopped by an unreachable database or a 503 upstream, to be resumed")
