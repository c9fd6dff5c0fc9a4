"""The drift service's domain errors; entry points turn them into dead-letter records or 4xx answers."""

from __future__ import annotations


class DriftError(Exception):
    """Base of every error the drift service raises on purpose."""


class UnmonitoredEvent(DriftError):
    """A valid event the drift service will not monitor; `reason` says why (it goes to `<topic>.dlq`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidDetectorConfig(DriftError):
    """A detector specification names an unknown detector or bad parameters."""
