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


def test_drift_eval_passes_options_through_and_defaults_to_a_table(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path, cli: Cli) -> None:
    runs = _record_runs(monkeypatch, 0)
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")

    result = cli("drift", "eval", str(events), "--detectors", "{}")

    assert result.exit_code == 0, result.output
    assert runs == [[sys.executable, "-m", "adaptloop_drift.offline", str(events), "--detectors", "{}",
                     "--format", "table"]]


def test_drift_eval_keeps_an_explicit_format_and_the_evaluators_exit_code(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path, cli: Cli) -> None:
    runs = _record_runs(monkeypatch, 2)
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")

    result = cli("drift", "eval", str(events), "--format", "json")

    assert result.exit_code == 2
    assert runs == [[sys.executable, "-m", "adaptloop_drift.offline", str(events), "--format", "json"]]


def test_drift_eval_without_the_evaluator_says_what_is_missing(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setattr(drift_command, "OFFLINE_PACKAGE", "adaptloop_no_such_service")

    with pytest.raises(CliError, match="offline drift evaluator"):
        drift_command.run_offline(tmp_path / "x.jsonl", [])
