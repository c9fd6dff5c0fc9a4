"""Test support for the auth matrix and the bad-input sweep over every route of a service.

Routes are enumerated from the app's own OpenAPI document, so a new route without an entry in a
test's table fails that test. "Nothing changed" is read from the parts that keep state: every row
of the service's PostgreSQL schema and the end offsets of the topics it writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from adaptloop_common.auth import ROLE_RANK
from confluent_kafka import Consumer, TopicPartition
from psycopg import sql

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UNKNOWN_TOKEN = "a-token-nobody-was-given"
LONE_SURROGATE_JSON = b'{"prompt": "control \\u0007\\u001b[2J and a lone \\ud800 surrogate"}'


def operations(openapi: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Every (METHOD, path template) an OpenAPI document lists (`app.openapi()` or `GET /openapi.json`)."""
    return {(method.upper(), path) for path, ops in openapi["paths"].items() for method in ops}


def mutating_operations(openapi: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {op for op in operations(openapi) if op[0] in MUTATING_METHODS}


@dataclass(frozen=True)
class Call:
    """One concrete request: the route it exercises, its path with values, and its body."""

    method: str
    template: str
    path: str | None = None
    json: Any = None
    content: bytes | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def op(self) -> tuple[str, str]:
        return self.method, self.template

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `httpx.Client.request` / `TestClient.request`."""
        out: dict[str, Any] = {"params": dict(self.params), "headers": dict(self.headers)}
        if self.content is not None:
            out["content"] = self.content
        elif self.json is not None:
            out["json"] = self.json
        return out

    def send(self, client: Any, headers: Mapping[str, str] | None = None) -> Any:
        kwargs = self.kwargs()
        kwargs["headers"] = {**kwargs["headers"], **(headers or {})}
        return client.request(self.method, self.path or self.template, **kwargs)


def bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def refused_callers(tokens: Mapping[str, str], needs: str) -> list[tuple[str, dict[str, str], int]]:
    """(who, headers, expected status) of every caller the route must refuse: no token, a token nobody was
    given, and the highest role ranked below `needs` (when there is one)."""
    callers = [("no token", {}, 401), ("unknown token", bearer(UNKNOWN_TOKEN), 401)]
    lower = [r for r in ROLE_RANK if ROLE_RANK[r] < ROLE_RANK[needs]]
    if lower:
        role = max(lower, key=ROLE_RANK.__getitem__)
        callers.append((f"role {role}", bearer(tokens[role]), 403))
    return callers


def check_refused_then_allowed(client: Any, state: Callable[[], Any], role: str, call: Call,
                               tokens: Mapping[str, str], *, allowed: int | None = None) -> None:
    """Every wrong caller gets its 401/403 and changes nothing; then the right role gets through.

    With `allowed` None the right call must succeed (2xx) and change the state (so the state read is shown
    to see changes); else it must answer `allowed` and change nothing either."""
    before = state()
    for who, headers, status in refused_callers(tokens, role):
        answer = call.send(client, headers)
        assert answer.status_code == status, f"{call.op} {who}: {answer.status_code} {answer.text}"
        assert state() == before, f"{call.op}: {who} was refused but something changed"
    answer = call.send(client, bearer(tokens[role]))
    if allowed is not None:
        assert answer.status_code == allowed, f"{call.op} role {role}: {answer.status_code} {answer.text}"
        assert state() == before
        return
    assert answer.status_code < 300, f"{call.op} role {role}: {answer.status_code} {answer.text}"
    assert state() != before, f"{call.op}: the right role's call changed nothing: the state read is blind"


BAD_PATH_VALUES = {"{name}": "Not.An.Adapter", "{number}": "first", "{alias}": "Bad Alias", "{sha256}": "not-a-sha",
                   "{suite}": "Bad Suite", "{job_id}": "not-a-uuid", "{model}": "no/such/model"}
GOOD_PATH_VALUES = {"{name}": "support", "{number}": "1", "{alias}": "production", "{sha256}": "0" * 64,
                    "{suite}": "s", "{job_id}": "00000000-0000-4000-8000-000000000000", "{model}": "support"}
BAD_QUERY = {"limit": "-1", "since": "yesterday", "before_id": "x", "adapter": ""}
WRONG_TYPES = {"version": "two", "reason": 5, "requests": -1, "adapter": ["x"], "prompt": {"x": 1},
               "model": 7, "messages": "hi", "max_tokens": "many", "training_config": []}


def _fill(template: str, values: Mapping[str, str]) -> str:
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


def bad_calls(method: str, template: str, operation: Mapping[str, Any], *, max_body: int) -> list[tuple[str, Call]]:
    """Malformed variants of one route (`operation` is its OpenAPI entry): path values no record can have, bad
    values of the query parameters it declares and, where it takes a body, broken JSON, a lone surrogate, a body
    over `max_body` and wrong types."""
    bad_path = _fill(template, BAD_PATH_VALUES)
    good_path = _fill(template, GOOD_PATH_VALUES)
    has_body = "requestBody" in operation
    declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    json_body = {"content-type": "application/json"}
    calls: list[tuple[str, Call]] = []
    bad_query = {k: v for k, v in BAD_QUERY.items() if k in declared}
    if bad_query:
        calls.append(("bad query", Call(method, template, good_path, params=bad_query)))
    if bad_path != template:
        calls.append(("bad path", Call(method, template, bad_path, json={"reason": "x"} if has_body else None)))
    if has_body:
        calls += [
            ("broken JSON", Call(method, template, good_path, content=b'{"reason": ', headers=json_body)),
            ("lone surrogate", Call(method, template, good_path, content=LONE_SURROGATE_JSON, headers=json_body)),
            ("over the limit", Call(method, template, good_path, content=b"[" + b"1," * max_body + b"1]",
                                    headers=json_body)),
            ("wrong types", Call(method, template, good_path, json=WRONG_TYPES)),
        ]
    return calls


def sweep_bad_input(client: Any, openapi: Mapping[str, Any], headers: Mapping[str, str], *,
                    max_body: int) -> tuple[int, list[str]]:
    """Every bad call on every route: (how many were sent, those that did not get a 4xx)."""
    sent, failures = 0, []
    for path, ops in sorted(openapi["paths"].items()):
        for method, operation in sorted(ops.items()):
            for what, call in bad_calls(method.upper(), path, operation, max_body=max_body):
                sent += 1
                answer = call.send(client, headers)
                if not 400 <= answer.status_code < 500:
                    failures.append(f"{method.upper()} {path} {what}: {answer.status_code} {answer.text[:200]}")
    return sent, failures


def database_state(dsn: str, schema: str) -> dict[str, list[str]]:
    """Every row of every table in `schema`, as sorted text: equal before and after means nothing changed."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            (schema,))]
        return {t: sorted(str(row) for row in conn.execute(
            sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(t))))
            for t in sorted(tables)}


def topic_ends(bootstrap: str, topics: Iterable[str]) -> dict[str, int]:
    """How many messages each topic holds (the sum of its partitions' high watermarks)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ends-{uuid.uuid4().hex}"})
    try:
        ends: dict[str, int] = {}
        for topic in topics:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            ends[topic] = sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                              for p in partitions)
        return ends
    finally:
        consumer.close()
