"""The run stamp every benchmark result file starts with: its keys, and a dirty flag that sees tracked changes."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from adaptloop_devstack.bench_stamp import OUTSIDE_RESULTS, git_revision, run_stamp


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed repository with code and a result file; the stamp reads it through ADAPTLOOP_REPO."""
    for name, text in {"services/a.py": "x = 1\n", "libs/b.py": "y = 2\n", "bench/results/r.json": "{}\n"}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "initial")
    monkeypatch.setenv("ADAPTLOOP_REPO", str(tmp_path))
    return tmp_path


def test_the_stamp_has_date_revision_dirty_flag_and_machine_with_its_load(repo: Path) -> None:
    stamp = run_stamp(torch="2.0")
    assert set(stamp) == {"date", "git_revision", "git_dirty", "machine"}
    assert datetime.fromisoformat(stamp["date"]).utcoffset() is not None
    assert stamp["git_revision"] == _git(repo, "rev-parse", "HEAD") and stamp["git_dirty"] is False
    machine = stamp["machine"]
    assert {"hostname", "platform", "cpu_model", "python", "cpus", "load_average"} <= set(machine)
    assert machine["torch"] == "2.0"
    assert len(machine["load_average"]) == 3 and all(isinstance(x, float) for x in machine["load_average"])


def test_git_dirty_reflects_a_tracked_change_under_the_given_paths_only(repo: Path) -> None:
    (repo / "libs/b.py").write_text("y = 3\n")
    assert git_revision()["git_dirty"] is True
    assert git_revision("libs")["git_dirty"] is True
    assert git_revision("services")["git_dirty"] is False

    _git(repo, "commit", "-q", "-am", "b")
    (repo / "services/untracked.py").write_text("z = 0\n")
    assert git_revision("services")["git_dirty"] is False, "an untracked file is not a change of the code measured"


def test_a_rewritten_result_file_does_not_make_the_tree_dirty_outside_results(repo: Path) -> None:
    (repo / "bench/results/r.json").write_text('{"new": 1}\n')
    assert git_revision()["git_dirty"] is True
    assert run_stamp(OUTSIDE_RESULTS)["git_dirty"] is False
    (repo / "services/a.py").write_text("x = 2\n")
    assert run_stamp(OUTSIDE_RESULTS)["git_dirty"] is True
