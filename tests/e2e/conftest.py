"""The whole stack, started once for the end-to-end tests the way `make up` starts it.

It runs on free loopback ports with its own broker, database and state directory, so it
never collides with a stack a developer has running. Nothing is mocked: the real broker,
PostgreSQL, vLLM engine and all five services as separate processes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from adaptloop_devstack.broker import free_port
from adaptloop_devstack.paths import var_dir
from adaptloop_devstack.stack import DEFAULT_PORTS, Stack, StackConfig, StackError


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    models = var_dir() / "models"
    if not (models / "tiny-llama" / "manifest.json").exists():
        pytest.fail("the tiny base model is missing at var/models/tiny-llama: run `make model` (make test does)",
                    pytrace=False)
    home = Path(tmp_path_factory.mktemp("stack"))
    config = StackConfig(
        home=home,
        ports={name: free_port() for name in DEFAULT_PORTS},
        database=f"adaptloop_e2e_{uuid.uuid4().hex[:8]}",
        models_dir=models,
        extra_env={"ADAPTLOOP_SPAN_FILE": str(home / "spans.jsonl")},
    )
    running = Stack(config)
    try:
        running.up()
    except StackError as exc:
        running.down()
        pytest.fail(f"the local stack did not start: {exc}", pytrace=False)
    try:
        yield running
    finally:
        running.down()
        from adaptloop_devstack.postgres import drop_database, ensure_database

        drop_database(ensure_database(config.database))
