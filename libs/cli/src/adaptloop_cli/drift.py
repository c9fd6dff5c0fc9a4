"""`adaptloop drift eval FILE`: the drift service's own signals and detectors over a JSON-lines file, offline."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

import typer

from adaptloop_cli.errors import CliError, reports_errors

OFFLINE_MODULE = "adaptloop_drift.offline"

drift_app = typer.Typer(help="Drift detection tools.", no_args_is_help=True)


def _find_offline() -> bool:
    try:
        return importlib.util.find_spec(OFFLINE_MODULE) is not None
    except ModuleNotFoundError:
        return False


def run_offline(file: Path, extra: list[str]) -> int:
    """Call `adaptloop_drift.offline.main(argv)` when it takes argv, else run the module as a subprocess."""
    if not _find_offline():
        raise CliError(f"the offline drift evaluator ({OFFLINE_MODULE}) is not installed in {sys.executable}",
                       hint="install the drift service into this environment (`make setup`)")
    argv = [str(file), *extra]
    module = importlib.import_module(OFFLINE_MODULE)
    entry = getattr(module, "main", None)
    if callable(entry) and _takes_argv(entry):
        try:
            return int(entry(argv) or 0)
        except SystemExit as stop:
            return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return subprocess.run([sys.executable, "-m", OFFLINE_MODULE, *argv], check=False).returncode


def _takes_argv(entry: object) -> bool:
    try:
        params = list(inspect.signature(entry).parameters.values())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                inspect.Parameter.POSITIONAL_OR_KEYWORD)


@drift_app.command("eval", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@reports_errors
def evaluate(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", exists=True, dir_okay=False, readable=True,
                                help="JSON lines of inference.logs / inference.feedback events."),
) -> None:
    """Replay FILE through the drift signals and detectors and print the detections; extra options pass through."""
    extra = list(ctx.args)
    if not any(arg == "--format" or arg.startswith("--format=") for arg in extra):
        extra += ["--format", "table"]
    code = run_offline(file, extra)
    if code:
        raise typer.Exit(code)
