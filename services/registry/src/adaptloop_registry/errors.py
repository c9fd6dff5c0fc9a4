"""The registry's domain errors; the HTTP layer turns each into its status code."""

from __future__ import annotations


class RegistryError(Exception):
    """A request the registry refuses; `status` is the HTTP answer, the message the reason."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RegistryError):
    status = 404


class Conflict(RegistryError):
    """The state changed under the caller (stale `expected_version`) or forbids the change."""

    status = 409


class Invalid(RegistryError):
    status = 422


class TooLarge(RegistryError):
    status = 413
