"""What every benchmark result file records about its run: date, git revision, machine and load."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adaptloop_devstack.paths import repo_root

OUTSIDE_RESULTS = ":(exclude)bench/results"
"""A `git_revision` path: every tracked file but the result files, which earlier benchmarks of a run rewrite."""


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages, rounded to two places."""
    return [round(x, 2) for x in os.getloadavg()]


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def machine(**extra: Any) -> dict[str, Any]:
    """The machine and its load now; `extra` adds what a benchmark knows (torch version, threads)."""
    return {"hostname": platform.node(), "platform": platform.platform(), "cpu_model": cpu_model(),
            "python": platform.python_version(), "cpus": os.cpu_count(), "load_average": load_average(), **extra}


def git_revision(*paths: str) -> dict[str, Any]:
    """HEAD and whether tracked files differ from it (only under `paths` when given)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True).stdout.strip()

    status = ["status", "--porcelain", "--untracked-files=no", *(["--", *paths] if paths else [])]
    return {"git_revision": git("rev-parse", "HEAD") or "unknown", "git_dirty": bool(git(*status))}


def run_stamp(*paths: str, **machine_extra: Any) -> dict[str, Any]:
    """`date`, `git_revision`, `git_dirty` and `machine`: the fields every result file starts with."""
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), **git_revision(*paths),
            "machine": machine(**machine_extra)}
