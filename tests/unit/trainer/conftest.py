"""The tiny base model, built once per test run (or reused from var/models)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from adaptloop_devstack.paths import var_dir
    from adaptloop_scenarios.tiny_model import ensure_tiny_model

    return ensure_tiny_model(var_dir() / "models" / "tiny-llama")
