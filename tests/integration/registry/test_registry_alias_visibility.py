"""Alias reads come from each worker's cache, and a move is visible to every worker as soon as the
move's response is back: two registry apps (two workers, each with its own cache and listening
connection) on one PostgreSQL schema, moves through one, reads through both right after."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from adaptloop_devstack.postgres import sqlalchemy_url
from adaptloop_registry.bootstrap import create_app
from adaptloop_registry.infra.alias_cache import AliasCache
from fastapi.testclient import TestClient
from registry_testkit import auth, make_settings, seed_adapter, token_spec, version_body

SCOPED_TOKEN = "scoped-reader-token"


@pytest.fixture
def workers(pg_dsn: str, pg_schema: str, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    digest = hashlib.sha256(SCOPED_TOKEN.encode()).hexdigest()
    settings = make_settings((sqlalchemy_url(pg_dsn), pg_schema), tmp_path,
                             tokens=f"{token_spec()},scoped:reader:{digest}:only-this-one")
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        yield first, second


def _cache(client: TestClient) -> AliasCache:
    cache: AliasCache | None = client.app.state.runtime.alias_cache
    assert cache is not None and cache.listening
    return cache


def _read(client: TestClient, name: str) -> int:
    response = client.get(f"/v1/adapters/{name}/aliases/production")
    assert response.status_code == 200, response.text
    return response.json()["version"]


def test_a_move_is_visible_to_the_same_and_the_other_worker_right_after_its_response(
        workers: tuple[TestClient, TestClient], pg_dsn: str, pg_schema: str) -> None:
    first, second = workers
    seeded = seed_adapter(first)
    name = seeded["name"]
    for _ in range(2):
        assert first.post(f"/v1/adapters/{name}/versions", json=version_body(seeded),
                          headers=auth("trainer")).status_code == 201
    moved = first.put(f"/v1/adapters/{name}/aliases/production",
                      json={"version": 1, "expected_version": None, "reason": "first"}, headers=auth("admin"))
    assert moved.status_code == 200, moved.text
    answer = first.get(f"/v1/adapters/{name}/aliases/production").json()
    assert answer == second.get(f"/v1/adapters/{name}/aliases/production").json()
    assert set(answer) == {"adapter", "alias", "version", "weight", "updated_by", "updated_at"}

    hits_before = _cache(first).hits + _cache(second).hits
    current = 1
    for i in range(40):  # moves through either worker, reads through both at once after each response
        mover = (first, second)[i % 2]
        target = 2 if current == 1 else 1
        response = mover.put(f"/v1/adapters/{name}/aliases/production",
                             json={"version": target, "expected_version": current, "reason": f"move {i}"},
                             headers=auth("admin"))
        assert response.status_code == 200, response.text
        current = target
        assert [_read(first, name), _read(second, name), _read(first, name), _read(second, name)] == [current] * 4
    # The reads between moves were answered from the caches (filled after each move's invalidation).
    assert _cache(first).hits + _cache(second).hits - hits_before >= 40

    # A change written straight to the table (another replica, an operator) is seen the same way.
    target = 2 if current == 1 else 1
    with psycopg.connect(pg_dsn, options=f"-csearch_path={pg_schema}", autocommit=True) as conn:
        conn.execute("UPDATE aliases SET version = %s WHERE alias = 'production' AND adapter_id = "
                     "(SELECT id FROM adapters WHERE name = %s)", (target, name))
    assert _read(first, name) == target and _read(second, name) == target

    # Removing the alias (a rollback to nothing is not possible, so through the table) is seen too.
    with psycopg.connect(pg_dsn, options=f"-csearch_path={pg_schema}", autocommit=True) as conn:
        conn.execute("DELETE FROM aliases WHERE alias = 'production' AND adapter_id = "
                     "(SELECT id FROM adapters WHERE name = %s)", (name,))
    for worker in workers:
        assert worker.get(f"/v1/adapters/{name}/aliases/production").status_code == 404


def test_a_cached_alias_is_still_refused_to_a_token_scoped_to_other_adapters(
        workers: tuple[TestClient, TestClient]) -> None:
    first, _ = workers
    seeded = seed_adapter(first)
    name = seeded["name"]
    assert first.post(f"/v1/adapters/{name}/versions", json=version_body(seeded),
                      headers=auth("trainer")).status_code == 201
    assert first.put(f"/v1/adapters/{name}/aliases/production",
                     json={"version": 1, "expected_version": None, "reason": "r"},
                     headers=auth("admin")).status_code == 200
    assert _read(first, name) == 1 and _read(first, name) == 1  # cached now
    refused = first.get(f"/v1/adapters/{name}/aliases/production",
                        headers={"Authorization": f"Bearer {SCOPED_TOKEN}"})
    assert refused.status_code == 403, refused.text
