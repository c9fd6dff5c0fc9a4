"""Domain errors of the inference service; the HTTP layer turns each into an OpenAI-format error."""

from __future__ import annotations


class InferenceError(Exception):
    """Base of every error this service raises on purpose."""

    status_code = 500
    error_type = "server_error"
    code: str | None = None

    def __init__(self, message: str = "", *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        """The request field the error is about (OpenAI's `error.param`), when there is one."""


class ModelNotFound(InferenceError):
    """The requested model name matches no adapter, alias, version or base model."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "model_not_found"


class AdapterUnavailable(InferenceError):
    """The name is known but the version behind it could not be loaded on this replica."""

    status_code = 503
    error_type = "server_error"
    code = "adapter_unavailable"


class NotReady(InferenceError):
    """The engine is still starting or the serving plan has not been synced yet."""

    status_code = 503
    error_type = "server_error"
    code = "not_ready"


class InvalidRequest(InferenceError):
    """A request the engine cannot run as asked (e.g. longer than the context window)."""

    status_code = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class AdapterRejected(Exception):
    """An adapter version failed verification or loading; `permanent` ones are not retried."""

    def __init__(self, reason: str, *, kind: str, permanent: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.permanent = permanent


class ReportRefused(Exception):
    """The registry did not take a serving report; `permanent` ones (it can never accept them) are dropped."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
