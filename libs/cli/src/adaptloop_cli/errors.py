"""Errors the CLI explains to its user, and the decorator that turns them into a message and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.markup import escape

from adaptloop_cli.console import stderr

EXIT_ERROR = 1
EXIT_JOB_NOT_SUCCEEDED = 3
EXIT_CONFLICT = 4

P = ParamSpec("P")
R = TypeVar("R")


class CliError(Exception):
    """A failure shown as `error: message` (and `hint: ...`), never as a traceback."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class MissingToken(CliError):
    pass


class ServiceUnreachable(CliError):
    def __init__(self, service: str, url: str, cause: str) -> None:
        super().__init__(f"the {service} service at {url} is unreachable ({cause})",
                         hint="start the local stack with `make up`, or point "
                              f"ADAPTLOOP_CLI_{service.upper()}_URL at a running {service}")
        self.service = service
        self.url = url


class ServiceRefused(CliError):
    """The service answered with a 4xx/5xx; `reason` is what it said."""

    def __init__(self, service: str, request: str, status: int, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{service} refused {request}: {status} {_STATUS_WORDS.get(status, 'error')}: {reason}",
                         hint=hint if hint is not None else _STATUS_HINTS.get(status))
        self.service = service
        self.status = status
        self.reason = reason
        if status == 409:
            self.exit_code = EXIT_CONFLICT


class UnexpectedAnswer(CliError):
    """The service answered, but not with the shape its contract (adaptloop_contracts) declares."""

    def __init__(self, service: str, request: str, problem: str) -> None:
        super().__init__(f"{service} answered {request} with something its contract does not allow: {problem}",
                         hint=f"the {service} service and this CLI come from different releases: upgrade the older")
        self.service = service


class JobDidNotSucceed(CliError):
    exit_code = EXIT_JOB_NOT_SUCCEEDED


_STATUS_WORDS = {400: "bad request", 401: "unauthorized", 403: "forbidden", 404: "not found", 409: "conflict",
                 413: "too large", 422: "invalid", 503: "unavailable"}
_STATUS_HINTS = {
    401: "the token is missing or unknown to the service: check ADAPTLOOP_TOKEN, or unset it to use the local "
         "stack's admin token from var/secrets/tokens.json",
    403: "the token's role is too low for this call: use a token with the admin (or trainer) role",
    503: "the service is up but not ready: retry shortly, or check its log under var/log/",
}


def report(error: CliError) -> None:
    console = stderr()
    console.print(f"[bold red]error:[/] {escape(error.message)}", markup=True, highlight=False, soft_wrap=True)
    if error.hint:
        console.print(f"[yellow]hint:[/] {escape(error.hint)}", markup=True, highlight=False, soft_wrap=True)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so a `CliError` becomes a message on stderr and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CliError as error:
            report(error)
            raise typer.Exit(error.exit_code) from None

    return wrapper
