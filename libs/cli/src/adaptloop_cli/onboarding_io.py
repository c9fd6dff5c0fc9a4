"""What the onboarding commands share: bad input as exit code 2, `--output json`, files read with a size
limit, and artifact uploads with a progress bar."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from adaptloop_contracts.registry_answers import AdapterRecord
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from adaptloop_cli.clients.registry import RegistryClient
from adaptloop_cli.console import stderr, stdout
from adaptloop_cli.errors import CliError, ServiceRefused

EXIT_BAD_INPUT = 2
UPLOAD_CHUNK = 1 << 20
_INPUT_STATUSES = (400, 404, 409, 413, 422)


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


OutputOption = typer.Option(OutputFormat.text, "--output", "-o", help="text for people, json for scripts.")


class BadInput(CliError):
    """The user's input cannot be registered (wrong path, unknown name, malformed or oversized file): exit 2."""

    exit_code = EXIT_BAD_INPUT


def as_bad_input(exc: ServiceRefused) -> CliError:
    """A refusal caused by what the user gave (4xx other than auth) is bad input; others stay as they are."""
    if exc.status in _INPUT_STATUSES:
        return BadInput(f"{exc.service} refused it: {exc.reason}")
    return exc


def emit(output: OutputFormat, payload: dict[str, Any] | list[Any], text: str) -> None:
    """The command's result: `payload` as JSON on stdout for scripts, else `text` for people."""
    if output == OutputFormat.json:
        typer.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        stdout().print(text, highlight=False, soft_wrap=True)


def read_file(path: Path, *, max_bytes: int, what: str) -> bytes:
    """The file's bytes, or `BadInput` naming why not (missing, a directory, too large)."""
    if not path.exists():
        raise BadInput(f"{path}: no such file")
    if not path.is_file():
        raise BadInput(f"{path}: not a file")
    size = path.stat().st_size
    if size > max_bytes:
        raise BadInput(f"{path}: {size} bytes is more than the {max_bytes} a {what} may have")
    if size == 0:
        raise BadInput(f"{path}: the file is empty")
    return path.read_bytes()


def require_dir(path: Path) -> Path:
    if not path.exists():
        raise BadInput(f"{path}: no such directory")
    if not path.is_dir():
        raise BadInput(f"{path}: not a directory")
    return path


def progress_bar() -> Progress:
    """A progress bar on stderr (stdout stays clean for `--output json`)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                    console=stderr(), transient=True)


def _chunks(data: bytes, advance: Callable[[int], None]) -> Iterator[bytes]:
    for start in range(0, len(data), UPLOAD_CHUNK):
        chunk = data[start:start + UPLOAD_CHUNK]
        yield chunk
        advance(len(chunk))


def upload_artifact(registry: RegistryClient, data: bytes, filename: str, *, progress: Progress) -> str:
    """Upload `data` as an artifact (content-addressed: uploading the same bytes twice is harmless); its sha256."""
    sha256 = hashlib.sha256(data).hexdigest()
    task: TaskID = progress.add_task(f"uploading {filename}", total=len(data))
    try:
        registry.request("PUT", f"/v1/artifacts/{sha256}", params={"filename": filename}, auth=True,
                         content=_chunks(data, lambda n: progress.advance(task, n)))
    except ServiceRefused as exc:
        raise as_bad_input(exc) from None
    return sha256


def adapter_or_bad_input(registry: RegistryClient, name: str) -> AdapterRecord:
    try:
        return registry.adapter(name)
    except ServiceRefused as exc:
        if exc.status == 404:
            raise BadInput(f"adapter {name!r} is not registered (create it with `adaptloop adapters create`)") from None
        raise
