"""Test support for the auth matrix and the bad-input sweep over every route of a service.

Routes are enumerated from the app's own OpenAPI document, so a new route without an entry in a
test's table fails that test. "Nothing changed" is read from the parts that keep state: every row
of the service's PostgreSQL schema and the end offsets of the topics it writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from adaptloop_common.auth import ROLE_RANK
from confluent_kafka import Consumer, TopicPartition
from psycopg import sql

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UNKNOWN_TOKEN = "a-token-nobody-was-given"
LONE_SURROGATE_JSON = b'{"prompt": "control \\u0007\\u001b[2J and a lone \\ud800 surrogate"}'


def operations(app: Any) -> set[tuple[str, str]]:
    """Every (METHOD, path template) the app documents."""
    return {(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops}


def operations_with_body(app: Any) -> set[tuple[str, str]]:
    """The operations whose OpenAPI entry declares a request body."""
    return {(method.upper(), path) for path, ops in app.openapi()["paths"].items()
            for method, op in ops.items() if "requestBody" in op}


def mutating_operations(app: Any) -> set[tuple[str, str]]:
    return {op for op in operations(app) if op[0] in MUTATING_METHODS}


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
