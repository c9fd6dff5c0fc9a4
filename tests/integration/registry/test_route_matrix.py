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
    LONE_SURROGATE_JSON,
    Call,
    bearer,
    database_state,
    mutating_operations,
    operations,
    operations_with_body,
    refused_callers,
    topic_ends,
)
from adaptloop_drift.adapters.http_api import create_http_app
from adaptloop_ingest.bootstrap import create_app as create_ingest
from adaptloop_ingest.config import Settings as IngestSettings
from adaptloop_kafka import ensure_topics
from adaptloop_registry.bootstrap import create_app as create_registry
from fastapi.testclient import TestClient
from registry_testkit import TOKENS, config_bytes, make_settings, safetensors_bytes, sha, token_spec, version_body

MAX_BODY = 64 * 1024


@dataclass
class Service:
    """One app under test: its client, the role each mutating route needs, and how to read its state."""

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
    }


REGISTRY_ROUTES = _registry_routes()


def test_every_mutating_registry_route_has_a_matrix_entry(registry: Service) -> None:
    assert mutating_operations(registry.client.app) == set(REGISTRY_ROUTES)


@pytest.mark.parametrize("op", sorted(REGISTRY_ROUTES), ids=" ".join)
def test_registry_refuses_every_wrong_caller_and_changes_nothing(registry: Service, op: tuple[str, str]) -> None:
    role, call = REGISTRY_ROUTES[op](registry.client)
    _refused_then_allowed(registry, role, call, TOKENS)


def _refused_then_allowed(service: Service, role: str, call: Call, tokens: dict[str, str]) -> None:
    before = service.state()
    for who, headers, status in refused_callers(tokens, role):
        answer = call.send(service.client, headers)
        assert answer.status_code == status, f"{who}: {answer.status_code} {answer.text}"
        assert service.state() == before, f"{who} was refused but something changed"
    answer = call.send(service.client, bearer(tokens[role]))
    assert answer.status_code < 300, f"role {role}: {answer.status_code} {answer.text}"
    assert service.state() != before, "the right role's call changed nothing: the state read is blind"


# -- ingest --------------------------------------------------------------------------------------------------


INGEST_TOKENS = TOKENS


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
    assert mutating_operations(ingest.client.app) == set(INGEST_ROUTES)


@pytest.mark.parametrize("op", sorted(INGEST_ROUTES), ids=" ".join)
def test_ingest_refuses_every_wrong_caller_and_changes_nothing(ingest: Service, op: tuple[str, str]) -> None:
    role, call, allowed = INGEST_ROUTES[op]()
    if allowed < 300:
        _refused_then_allowed(ingest, role, call, INGEST_TOKENS)
        return
    before = ingest.state()
    for who, headers, status in refused_callers(INGEST_TOKENS, role):
        assert call.send(ingest.client, headers).status_code == status, who
    answer = call.send(ingest.client, bearer(INGEST_TOKENS[role]))
    assert answer.status_code == allowed, answer.text
    assert ingest.state() == before


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
    assert mutating_operations(drift.client.app) == set(DRIFT_ROUTES)


@pytest.mark.parametrize("op", sorted(DRIFT_ROUTES), ids=" ".join)
def test_drift_refuses_every_wrong_caller_and_changes_nothing(drift: Service, op: tuple[str, str]) -> None:
    _refused_then_allowed(drift, "trainer", DRIFT_ROUTES[op], TOKENS)


# -- bad input over every route --------------------------------------------------------------------------------


def _bad_calls(template: str, method: str, has_body: bool) -> list[tuple[str, Call]]:
    """Malformed variants of any route: path values no record can have and, where the route takes a body,
    broken JSON, a lone surrogate, a body over the limit and wrong types."""
    path = (template.replace("{name}", "Not.An.Adapter").replace("{number}", "first")
            .replace("{alias}", "Bad Alias").replace("{sha256}", "not-a-sha").replace("{suite}", "Bad Suite"))
    if method == "GET":
        return [("bad path and query", Call(method, template, path, params={"limit": "-1", "since": "yesterday",
                                                                            "before_id": "x", "adapter": ""}))]
    valid_path = template.replace("{name}", "support").replace("{number}", "1").replace("{alias}", "production") \
        .replace("{sha256}", "0" * 64).replace("{suite}", "s")
    bad_path = ("bad path", Call(method, template, path, json={"reason": "x"}))
    if not has_body:
        return [bad_path] if path != template else []
    return [
        bad_path,
        ("broken JSON", Call(method, template, valid_path, content=b'{"reason": ',
                             headers={"content-type": "application/json"})),
        ("lone surrogate", Call(method, template, valid_path, content=LONE_SURROGATE_JSON,
                                headers={"content-type": "application/json"})),
        ("over the limit", Call(method, template, valid_path, content=b"[" + b"1," * MAX_BODY + b"1]",
                                headers={"content-type": "application/json"})),
        ("wrong types", Call(method, template, valid_path, json={"version": "two", "reason": 5, "requests": -1,
                                                                 "adapter": ["x"], "prompt": {"x": 1}})),
    ]


SWEPT = ("registry", "ingest", "drift")
EXEMPT_GETS = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/serving-plan", "/v1/approvals",
               "/v1/state", "/v1/adapters", "/v1/base-models"}
"""Reads without any input: nothing to get wrong."""


@pytest.mark.parametrize("service_name", SWEPT)
def test_bad_input_on_every_route_is_a_4xx_and_changes_nothing(service_name: str,
                                                               request: pytest.FixtureRequest) -> None:
    service: Service = request.getfixturevalue(service_name)
    admin = bearer(TOKENS["admin"])
    before = service.state()
    failures = []
    with_body = operations_with_body(service.client.app)
    for method, template in sorted(operations(service.client.app)):
        if method == "GET" and template in EXEMPT_GETS:
            continue
        for what, call in _bad_calls(template, method, (method, template) in with_body):
            answer = call.send(service.client, admin)
            if not 400 <= answer.status_code < 500:
                failures.append(f"{method} {template} {what}: {answer.status_code} {answer.text[:200]}")
    assert not failures, "\n".join(failures)
    assert service.state() == before, "bad input changed the state"

