"""The ingest service's domain errors; the HTTP layer turns each into a status code."""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error ingest raises on purpose."""


class BatchRejected(IngestError):
    """Not one item of a request was valid (422); `rejected` lists each with its reason."""

    def __init__(self, rejected: list[dict[str, object]]) -> None:
        super().__init__(f"{len(rejected)} items rejected, none valid")
        self.rejected = rejected


class MalformedBody(IngestError):
    """The body is not JSON, or neither an object nor an array of objects (400)."""


class BatchTooLarge(IngestError):
    """More items than `max_batch_items` (413)."""


class UnstorableEvent(IngestError):
    """A valid event the database cannot hold; it goes to the dead-letter topic instead of blocking."""


class QueueFull(IngestError):
    """The producer already holds as many unacknowledged events as allowed (503 with Retry-After)."""


class NotAcknowledged(IngestError):
    """The broker did not acknowledge every event in time (503); nothing was answered as accepted."""
