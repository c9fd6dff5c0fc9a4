"""`adaptloop drift eval`: the drift service's offline evaluator, run as a process the CLI never imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from adaptloop_cli import drift as drift_command
from adaptloop_cli.errors import CliError
from adaptloop_drift.synthetic import make_feedback, make_log
from cli_fakes import Cli


def test_drift_eval_prints_the_evaluators_verdicts_without_importing_the_drift_service(
        cli: Cli, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "adaptloop_drift" or m.startswith("adaptloop_drift.")]:
        monkeypatch.delitem(sys.modules, name)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([make_log("support", 0).model_dump_json(), "{broken",
                                  make_feedback("support", 0, 0.0).model_dump_json()]) + "\n")

    result = cli("drift", "eval", str(events))

    assert result.exit_code == 0, result.output
    out, err = capfd.readouterr()
    assert [line.split()[:3] for line in out.splitlines()] == [["2", "rejected", "not"]], out
    assert '"rejected": 1' in err
    assert not [m for m in sys.modules if m.startswith("adaptloop_drift")], "the CLI imported the drift service"


def _record_runs(monkeypatch: pytest.MonkeyPatch, returncode: int) -> list[list[str]]:
    runs: list[list[str]] = []

    def run(argv: list[str], check: bool) -> subprocess.CompletedProcess[bytes]:
        runs.append(argv)
        return subprocess.CompletedProcess(argv, returncode)

    monkeypatch.setattr(drift_command.subprocess, "run", run)
    return runs


@pytest.mark.parametrize(("options", "evaluator_argv", "exit_code"), [
    (["--detectors", "{}"], ["--detectors", "{}", "--format", "table"], 0),  # a table unless a format is given
    (["--format", "json"], ["--format", "json"], 2),
])
def test_drift_eval_passes_options_through_and_returns_the_evaluators_exit_code(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli: Cli, options: list[str], evaluator_argv: list[str],
        exit_code: int) -> None:
    runs = _record_runs(monkeypatch, exit_code)
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")

    result = cli("drift", "eval", str(events), *options)

    assert result.exit_code == exit_code, result.output
    assert runs == [[sys.executable, "-m", "adaptloop_drift.offline", str(events), *evaluator_argv]]


def test_drift_eval_without_the_evaluator_says_what_is_missing(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setattr(drift_command, "OFFLINE_PACKAGE", "adaptloop_no_such_service")

    with pytest.raises(CliError, match="offline drift evaluator"):
        drift_command.run_offline(tmp_path / "x.jsonl", [])
