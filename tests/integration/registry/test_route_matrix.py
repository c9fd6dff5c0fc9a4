"""Every mutating route of registry, ingest and drift x no token / unknown token / too low a role / the right
role, and bad input over every route: refused calls change nothing (the database rows and topic ends read before
and after), bad input is a 4xx, never a 5xx. Routes come from each app's OpenAPI document: a new route without an
entry here fails. Apps run in-process against the run's PostgreSQL and broker.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from adaptloop_contracts import TopicNames
from adaptloop_devstack.postgres import sqlalchemy_url
from adaptloop_devstack.route_matrix import (
    Call,
    bearer,
    check_refused_then_allowed,
    database_state,
    mutating_operations,
    sweep_bad_input,
    topic_ends,
)
from adaptloop_drift.api.routes import create_http_app
from adaptloop_ingest.bootstrap import create_app as create_ingest
from adaptloop_ingest.config import Settings as IngestSettings
from adaptloop_kafka import ensure_topics
from adaptloop_registry.bootstrap import create_app as create_registry
from fastapi.testclient import TestClient
from registry_testkit import TOKENS, config_bytes, make_settings, safetensors_bytes, sha, token_spec, version_body

MAX_BODY = 64 * 1024


@dataclass
class Service:
    """One app under test: its in-process client and how to read the state it keeps."""

    name: str
    client: TestClient
    state: Callable[[], Any]


# -- registry ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    schema = f"m_{uuid.uuid4().hex[:10]}"
    work = tmp_path_factory.mktemp("registry")
    settings = make_settings((sqlalchemy_url(pg_dsn), schema), work, max_body_bytes=MAX_BODY)

    def state() -> Any:
        return database_state(pg_dsn, schema), sorted(str(p) for p in (work / "artifacts").rglob("*"))

    with TestClient(create_registry(settings)) as client:
        _post(client, "admin", "/v1/base-models", {"name": "tiny-llama", "version": "1", "location": "var/models/t",
                                                   "weights_sha256": "b" * 64})
        yield Service("registry", client, state)


def _post(client: TestClient, role: str, path: str, body: Any, method: str = "POST") -> Any:
    answer = client.request(method, path, json=body, headers=bearer(TOKENS[role]))
    assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json()


def _adapter(client: TestClient, *, mode: str = "manual", production: int | None = 1, canary: int | None = None,
             promoted_twice: bool = False, pending: bool = False) -> str:
    """A fresh adapter with versions 1 and 2 (production on `production`), set up for one route's right call."""
    name = f"m{uuid.uuid4().hex[:10]}"
    _post(client, "admin", "/v1/adapters", {"name": name, "base_model": "tiny-llama"})
    seeded = {"name": name, "weights": _upload(client, safetensors_bytes(), "adapter_model.safetensors"),
              "config": _upload(client, config_bytes(), "adapter_config.json")}
    for _ in (1, 2):
        _post(client, "trainer", f"/v1/adapters/{name}/versions", version_body(seeded, request_id=uuid.uuid4().hex))
    if production:
        _post(client, "admin", f"/v1/adapters/{name}/aliases/production",
              {"version": production, "expected_version": None, "reason": "seed"}, "PUT")
    if promoted_twice:
        _post(client, "admin", f"/v1/adapters/{name}/aliases/production",
              {"version": 2, "expected_version": production, "reason": "seed"}, "PUT")
    if canary:
        _post(client, "admin", f"/v1/adapters/{name}/aliases/canary",
              {"version": canary, "expected_version": None, "reason": "seed", "weight": 0.1}, "PUT")
    if mode != "manual" or pending:
        _post(client, "admin", f"/v1/adapters/{name}/promotion-policy", {"promotion_policy": {"mode": "approval"}},
              "PUT")
        _post(client, "trainer", f"/v1/adapters/{name}/versions",
              version_body(seeded, passed=True, request_id=uuid.uuid4().hex))
    return name


def _upload(client: TestClient, data: bytes, filename: str) -> str:
    digest = sha(data)
    answer = client.put(f"/v1/artifacts/{digest}", params={"filename": filename}, content=data,
                        headers=bearer(TOKENS["trainer"]))
    assert answer.status_code in (200, 201), answer.text
    return digest


def _version() -> dict[str, Any]:
    """A new version of the artifacts every seeded adapter uploaded."""
    return version_body({"weights": sha(safetensors_bytes()), "config": sha(config_bytes())},
                        request_id=uuid.uuid4().hex)


AdapterRoute = Callable[[TestClient], tuple[str, Call]]
"""Builds (the role it needs, a valid call) against fresh records."""


def _registry_routes() -> dict[tuple[str, str], AdapterRoute]:
    a = "/v1/adapters/{name}"
    now = datetime.now(UTC)

    def on(template: str, method: str = "POST", role: str = "admin", body: Any = None, number: int = 1,
           **setup: Any) -> AdapterRoute:
        def build(client: TestClient) -> tuple[str, Call]:
            name = _adapter(client, **setup)
            path = template.replace("{name}", name).replace("{number}", str(number)).replace("{alias}", "production")
            payload = body(name) if callable(body) else body
            return role, Call(method, template, path, json=payload)
        return build

    def fresh(template: str, role: str, body: Callable[[], Any]) -> AdapterRoute:
        return lambda _client: (role, Call("POST", template, json=body()))

    def artifact(_client: TestClient) -> tuple[str, Call]:
        data = json.dumps({"prompt": uuid.uuid4().hex, "expected": "x"}).encode() + b"\n"
        return "trainer", Call("PUT", "/v1/artifacts/{sha256}", f"/v1/artifacts/{sha(data)}", content=data,
                               params={"filename": "suite.jsonl"})

    def suite(client: TestClient) -> tuple[str, Call]:
        name = _adapter(client)
        data = json.dumps({"prompt": "p", "expected": "x"}).encode() + b"\n"
        digest = _upload(client, data, "suite.jsonl")
        return "admin", Call("POST", f"{a}/eval-suites", f"/v1/adapters/{name}/eval-suites",
                             json={"name": "s", "sha256": digest, "metric": "exact_match", "reason": "matrix"})

    reason = {"reason": "auth matrix"}
    return {
        ("POST", "/v1/base-models"): fresh("/v1/base-models", "admin", lambda: {
            "name": f"b{uuid.uuid4().hex[:8]}", "version": "1", "location": "x", "weights_sha256": "c" * 64}),
        ("POST", "/v1/adapters"): fresh("/v1/adapters", "admin", lambda: {
            "name": f"n{uuid.uuid4().hex[:8]}", "base_model": "tiny-llama"}),
        ("PUT", f"{a}/promotion-policy"): on(f"{a}/promotion-policy", "PUT",
                                             body={"promotion_policy": {"mode": "auto"}}),
        ("POST", f"{a}/versions"): on(f"{a}/versions", role="trainer", body=lambda _name: _version()),
        ("POST", f"{a}/versions/{{number}}/retire"): on(f"{a}/versions/{{number}}/retire", body=reason, number=2),
        ("POST", f"{a}/versions/{{number}}/load-failures"): on(f"{a}/versions/{{number}}/load-failures",
                                                               role="trainer", body={"replica": "r1", "reason": "x"}),
        ("POST", f"{a}/versions/{{number}}/served"): on(f"{a}/versions/{{number}}/served", role="trainer",
                                                        body={"requests": 5}),
        ("PUT", f"{a}/aliases/{{alias}}"): on(f"{a}/aliases/{{alias}}", "PUT",
                                              body={"version": 2, "expected_version": 1, "reason": "x"}),
        ("POST", f"{a}/aliases/{{alias}}/rollback"): on(f"{a}/aliases/{{alias}}/rollback", body=reason,
                                                        promoted_twice=True),
        ("POST", f"{a}/canary/promote"): on(f"{a}/canary/promote", body=reason, canary=2),
        ("POST", f"{a}/versions/{{number}}/approve"): on(f"{a}/versions/{{number}}/approve", body=reason, number=3,
                                                         pending=True),
        ("POST", f"{a}/versions/{{number}}/reject"): on(f"{a}/versions/{{number}}/reject", body=reason, number=3,
                                                        pending=True),
        ("POST", "/v1/serving-reports"): lambda client: ("trainer", Call("POST", "/v1/serving-reports", json={
            "report_id": str(uuid.uuid4()), "replica": "r1", "adapter": _adapter(client),
            "period_start": (now - timedelta(minutes=1)).isoformat(), "period_end": now.isoformat(),
            "counts": {"1": 5}})),
        ("POST", f"{a}/rollout-decisions"): on(f"{a}/rollout-decisions", role="trainer", canary=2, body=lambda _n: {
            "decision_id": str(uuid.uuid4()), "action": "graduate_canary", "version": 2, "previous_version": 1,
            "reason": "x"}),
        ("PUT", "/v1/artifacts/{sha256}"): artifact,
        ("POST", f"{a}/eval-suites"): suite,
        ("POST", "/v1/erasures"): lambda client: ("admin", Call("POST", "/v1/erasures", json={
            "erasure_id": str(uuid.uuid4()), "reason": "x",
            "snapshots": [{"adapter": _adapter(client), "sha256": "d" * 64}]})),
        ("POST", "/v1/tokens"): lambda client: ("admin", Call("POST", "/v1/tokens", json={
            "actor": "acme-bot", "role": "reader", "adapters": [_adapter(client)]})),
    }


REGISTRY_ROUTES = _registry_routes()


def test_every_mutating_registry_route_has_a_matrix_entry(registry: Service) -> None:
    assert mutating_operations(registry.client.app.openapi()) == set(REGISTRY_ROUTES)


@pytest.mark.parametrize("op", sorted(REGISTRY_ROUTES), ids=" ".join)
def test_registry_refuses_every_wrong_caller_and_changes_nothing(registry: Service, op: tuple[str, str]) -> None:
    role, call = REGISTRY_ROUTES[op](registry.client)
    check_refused_then_allowed(registry.client, registry.state, role, call, TOKENS)


# -- ingest --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ingest(kafka_bootstrap: str, pg_dsn: str) -> Iterator[Service]:
    topics = TopicNames(f"m{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_bootstrap, topics.all_with_partitions())
    schema = f"m_{uuid.uuid4().hex[:10]}"
    settings = IngestSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topics.prefix,
                              database_url=sqlalchemy_url(pg_dsn), db_schema=schema, consumer_enabled=False,
                              tokens=token_spec(), max_body_bytes=MAX_BODY)
    written = [topics("inference.logs"), topics("inference.feedback")]

    def state() -> Any:
        return database_state(pg_dsn, schema), topic_ends(kafka_bootstrap, written)

    with TestClient(create_ingest(settings)) as client:
        yield Service("ingest", client, state)


def _log() -> dict[str, Any]:
    return {"model": "support", "request_id": uuid.uuid4().hex, "adapter_version": 1, "base_model": "tiny-llama",
            "prompt": "p", "completion": "c", "prompt_tokens": 1, "completion_tokens": 1, "latency_ms": 1.0}


INGEST_ROUTES: dict[tuple[str, str], Callable[[], tuple[str, Call, int]]] = {
    ("POST", "/v1/logs"): lambda: ("trainer", Call("POST", "/v1/logs", json=_log()), 202),
    ("POST", "/v1/feedback"): lambda: ("trainer", Call("POST", "/v1/feedback", json={
        "model": "support", "inference_event_id": str(uuid.uuid4()), "score": 1.0}), 202),
    ("POST", "/v1/examples"): lambda: ("trainer", Call("POST", "/v1/examples", json=[
        {"adapter": "support", "prompt": uuid.uuid4().hex, "answer": "a"}]), 201),
    # The right role's erasure of a subject nobody holds: 404, nothing erased (the lineage is not asked).
    ("POST", "/v1/erasures"): lambda: ("admin", Call("POST", "/v1/erasures", json={
        "tenant": f"nobody-{uuid.uuid4().hex}", "reason": "x"}), 404),
}


def test_every_mutating_ingest_route_has_a_matrix_entry(ingest: Service) -> None:
    assert mutating_operations(ingest.client.app.openapi()) == set(INGEST_ROUTES)


@pytest.mark.parametrize("op", sorted(INGEST_ROUTES), ids=" ".join)
def test_ingest_refuses_every_wrong_caller_and_changes_nothing(ingest: Service, op: tuple[str, str]) -> None:
    role, call, allowed = INGEST_ROUTES[op]()
    check_refused_then_allowed(ingest.client, ingest.state, role, call, TOKENS,
                               allowed=None if allowed < 300 else allowed)


# -- drift ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drift() -> Service:
    commands: list[tuple[str, bool, str]] = []
    app = create_http_app(tokens=token_spec(), max_body_bytes=MAX_BODY, checks={}, detector_state=list,
                          policy_state=dict, rollout_state=list, rollout_settings={},
                          set_paused=lambda adapter, paused, actor: commands.append((adapter, paused, actor)),
                          signal_series=lambda _name: [])
    return Service("drift", TestClient(app), lambda: list(commands))


DRIFT_ROUTES = {
    ("POST", "/v1/adapters/{name}/pause"): Call("POST", "/v1/adapters/{name}/pause", "/v1/adapters/support/pause"),
    ("POST", "/v1/adapters/{name}/resume"): Call("POST", "/v1/adapters/{name}/resume", "/v1/adapters/support/resume"),
}


def test_every_mutating_drift_route_has_a_matrix_entry(drift: Service) -> None:
    assert mutating_operations(drift.client.app.openapi()) == set(DRIFT_ROUTES)


@pytest.mark.parametrize("op", sorted(DRIFT_ROUTES), ids=" ".join)
def test_drift_refuses_every_wrong_caller_and_changes_nothing(drift: Service, op: tuple[str, str]) -> None:
    check_refused_then_allowed(drift.client, drift.state, "trainer", DRIFT_ROUTES[op], TOKENS)


# -- bad input over every route --------------------------------------------------------------------------------


@pytest.mark.parametrize("service_name", ["registry", "ingest", "drift"])
def test_bad_input_on_every_route_is_a_4xx_and_changes_nothing(service_name: str,
                                                               request: pytest.FixtureRequest) -> None:
    service: Service = request.getfixturevalue(service_name)
    before = service.state()
    sent, failures = sweep_bad_input(service.client, service.client.app.openapi(), bearer(TOKENS["admin"]),
                                     max_body=MAX_BODY)
    assert sent > 0 and not failures, "\n".join(failures)
    assert service.state() == before, "bad input changed the state"
