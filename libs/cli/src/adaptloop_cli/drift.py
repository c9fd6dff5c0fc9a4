"""`adaptloop drift eval FILE`: the drift service's own signals and detectors over a JSON-lines file, offline.

The evaluator is the drift service's (`python -m adaptloop_drift.offline`): the CLI runs it as a child
process of its own interpreter and never imports it, as libs never import services.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import typer

from adaptloop_cli.errors import CliError, reports_errors

OFFLINE_PACKAGE = "adaptloop_drift"
OFFLINE_MODULE = f"{OFFLINE_PACKAGE}.offline"

drift_app = typer.Typer(help="Drift detection tools.", no_args_is_help=True)


def _find_offline() -> bool:
    """Whether the drift service is installed next to the CLI (found, not imported)."""
    return importlib.util.find_spec(OFFLINE_PACKAGE) is not None


def run_offline(file: Path, extra: list[str]) -> int:
    """Run `python -m adaptloop_drift.offline FILE EXTRA...`; its output is the command's, its exit code too."""
    if not _find_offline():
        raise CliError(f"the offline drift evaluator ({OFFLINE_MODULE}) is not installed in {sys.executable}",
                       hint="install the drift service into this environment (`make setup`)")
    return subprocess.run([sys.executable, "-m", OFFLINE_MODULE, str(file), *extra], check=False).returncode


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
