"""Where the local stack keeps its files: everything under `<repo>/var/` (override with ADAPTLOOP_HOME)."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    env = os.environ.get("ADAPTLOOP_REPO")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "services").is_dir() and (parent / "libs").is_dir():
            return parent
    return Path.cwd()


def var_dir() -> Path:
    path = Path(os.environ.get("ADAPTLOOP_HOME", repo_root() / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def venv_python(env: str) -> Path:
    return var_dir() / "venv" / env / "bin" / "python"
