"""A plain registration on PostgreSQL is answered before FastAPI's routing (`api/fast_registration.py`); every
answer - created, repeated, refused, unauthenticated, invalid - equals the route's, which answers the same
requests when the fast path is taken out of the app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from adaptloop_registry.api.fast_registration import FastRegistrations
from adaptloop_registry.bootstrap import create_app
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from registry_testkit import auth, make_settings, seed_adapter, version_body

VOLATILE = re.compile(r'"(registered_at|recorded_at|moved_at|event_id|retired_at)":"[^"]*"')


def _client(pg_dsn_url: str, schema: str, tmp_path: Path, *, fast: bool) -> TestClient:
    app = create_app(make_settings((pg_dsn_url, schema), tmp_path / schema))
    if not fast:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not FastRegistrations]
    return TestClient(app)


@pytest.fixture
def clients(postgres: tuple[str, str], tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    url, schema = postgres
    with _client(url, schema, tmp_path, fast=True) as fast, _client(url, f"{schema}_r", tmp_path, fast=False) as route:
        yield fast, route


def _requests(seeded: dict[str, str]) -> list[tuple[str, dict[str, Any], Any]]:
    name = seeded["name"]
    path = f"/v1/adapters/{name}/versions"
    body = version_body(seeded, request_id="job-1")
    return [
        (path, auth("trainer"), body),  # created
        (path, auth("trainer"), body),  # the same request_id: the first answer, 200
        (path, auth("admin"), version_body(seeded, passed=True)),  # a higher role; an evaluation
        (path, auth("trainer"), {**body, "config_sha256": seeded["weights"]}),  # same request_id, other artifacts
        (path, auth("trainer"), {**body, "request_id": None, "weights_sha256": "e" * 64}),  # not uploaded: 422
        (path, auth("trainer"), {**body, "request_id": None, "parent_version": 99}),  # no such parent: 404
        (path, auth("trainer"), {**body, "request_id": None, "base_model": "nope"}),  # unknown base model: 422
        ("/v1/adapters/missing/versions", auth("trainer"), body),  # no such adapter: 404
        (path, auth("reader"), body),  # role too low: 403
        (path, {}, body),  # no token: 401
        (path, {"Authorization": "bearer  trainer-token-1 "}, body),  # parsed as the role check parses it
        (path, auth("trainer"), {**body, "seed": "seven"}),  # invalid body: 422
        (path, auth("trainer"), b"{not json"),  # not JSON: 422
        (path, {**auth("trainer"), "Content-Type": "text/plain"}, b"{}"),  # another content type
    ]


def _send(c: TestClient, path: str, headers: dict[str, str], body: Any) -> tuple[int, str]:
    if isinstance(body, bytes):
        response = c.post(path, content=body, headers={"Content-Type": "application/json", **headers})
    else:
        response = c.post(path, json=body, headers=headers)
    return response.status_code, VOLATILE.sub(r'"\1":"-"', response.text)


def _answered_fast() -> float:
    return REGISTRY.get_sample_value("adaptloop_registry_fast_registrations_total") or 0.0


def test_every_answer_equals_the_routes(clients: tuple[TestClient, TestClient]) -> None:
    fast, route = clients
    seeded = seed_adapter(fast, name="fast-one")
    assert seed_adapter(route, name="fast-one") == seeded  # the same artifacts, so the same answers
    before = _answered_fast()
    answers = [(_send(fast, *r), _send(route, *r)) for r in _requests(seeded)]
    for i, (mine, theirs) in enumerate(answers):
        assert mine == theirs, (i, mine, theirs)
    assert [a[0][0] for a in answers] == [201, 200, 201, 409, 422, 404, 422, 404, 403, 401, 200, 422, 422, 422]
    # The plain ones (the database's refusals included) were answered before FastAPI's routing; the
    # others went to the route.
    assert _answered_fast() - before == 9
