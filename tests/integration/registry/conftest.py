"""Fixtures for the registry's integration tests: both database backends and an in-process client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from adaptloop_devstack.postgres import sqlalchemy_url
from adaptloop_registry.bootstrap import create_app
from fastapi.testclient import TestClient
from registry_testkit import make_settings


@pytest.fixture(params=["postgres", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(database_url, schema) for each backend the registry supports."""
    if request.param == "postgres":
        return sqlalchemy_url(request.getfixturevalue("pg_dsn")), request.getfixturevalue("pg_schema")
    return f"sqlite:///{tmp_path / 'registry.db'}", "registry"


@pytest.fixture
def postgres(pg_dsn: str, pg_schema: str) -> tuple[str, str]:
    return sqlalchemy_url(pg_dsn), pg_schema


@pytest.fixture
def client(backend: tuple[str, str], tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(backend, tmp_path))) as c:
        yield c
