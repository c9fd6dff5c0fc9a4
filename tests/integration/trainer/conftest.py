"""A registry, ingest and trainer per test module, on the run's broker and database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from adaptloop_devstack.paths import var_dir
from trainer_stack import Stack, make_stack


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from adaptloop_scenarios.tiny_model import ensure_tiny_model

    return ensure_tiny_model(var_dir() / "models" / "tiny-llama")


@pytest.fixture(scope="session")
def successor_model_dir() -> Path:
    """A second, different base model (another seed, shorter pretraining) for base-model upgrades."""
    from adaptloop_scenarios.tiny_model import ensure_tiny_model

    return ensure_tiny_model(var_dir() / "models" / "tiny-llama-s1", seed=1, steps=60)


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, pg_dsn: str, tiny_model_dir: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = make_stack(kafka_bootstrap, pg_dsn, tmp_path_factory.mktemp("stack"), {"tiny-llama": tiny_model_dir},
                         {"ADAPTLOOP_TRAINER_MIN_EXAMPLES": "20"})
    try:
        running.start()
        running.register_base_model("tiny-llama")
        yield running
    finally:
        running.stop()
