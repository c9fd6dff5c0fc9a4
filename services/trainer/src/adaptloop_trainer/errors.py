"""The trainer's domain errors; entry points turn them into job states, 4xx answers or dead letters."""

from __future__ import annotations


class TrainerError(Exception):
    """Base of every trainer error; `reason` is what the job record and training.events say."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JobRejected(TrainerError):
    """The request cannot be trained: unknown adapter, too little data, invalid configuration."""


class JobCancelled(TrainerError):
    """Someone cancelled the job while it ran."""


class TrainingFailed(TrainerError):
    """Training or evaluation broke (NaN loss, out of memory, a dependency failing)."""


class JobNotFound(TrainerError):
    """No job with that id."""


class UpstreamError(TrainerError):
    """The registry or ingest answered with an error or could not be reached."""


class UpstreamUnavailable(UpstreamError):
    """The registry or ingest answered 503 (e.g. its database is away): the job waits and resumes."""
