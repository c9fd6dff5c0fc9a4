"""A registration's answer is built from what it wrote: it must equal what a read returns afterwards, in every
promotion mode; its rows (outbox in order, audit, alias history) are those of the change; on PostgreSQL the
whole registration is three statements."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from adaptloop_registry.bootstrap import build_runtime, create_app
from adaptloop_registry.infra.tables import outbox
from adaptloop_registry.runtime import RegistryRuntime
from fastapi.testclient import TestClient
from registry_testkit import ACTORS, auth, make_settings, seed_adapter, version_body
from sqlalchemy import event, select


@pytest.fixture
def served(backend: tuple[str, str], tmp_path: Path) -> Iterator[tuple[TestClient, RegistryRuntime]]:
    settings = make_settings(backend, tmp_path)
    runtime = build_runtime(settings)
    with TestClient(create_app(settings, runtime=runtime)) as c:
        yield c, runtime


def _register(c: TestClient, seeded: dict[str, str], **body: Any) -> dict[str, Any]:
    response = c.post(f"/v1/adapters/{seeded['name']}/versions", json=version_body(seeded, **body),
                      headers=auth("trainer"))
    assert response.status_code == 201, response.text
    return response.json()


def _events(runtime: RegistryRuntime, name: str) -> list[dict[str, Any]]:
    with runtime.db.read() as conn:
        rows = conn.execute(select(outbox.c.payload).where(outbox.c.event_key == name).order_by(outbox.c.id))
        return [json.loads(r.payload) for r in rows]


@pytest.mark.parametrize("mode", ["manual", "auto", "canary", "approval"])
def test_the_answer_is_what_a_read_returns(served: tuple[TestClient, RegistryRuntime], mode: str) -> None:
    c, runtime = served
    seeded = seed_adapter(c, mode=mode)
    name = seeded["name"]
    answers = []
    for body in ({"passed": True, "request_id": "r1"}, {}, {"passed": False}, {"passed": True, "parent_version": 1}):
        answer = _register(c, seeded, **body)
        read = c.get(f"/v1/adapters/{name}/versions/{answer['version']}").json()
        assert {k: v for k, v in answer.items() if k not in ("aliases", "moves")} == read
        assert answer["aliases"] == c.get(f"/v1/adapters/{name}").json()["aliases"]
        answers.append(answer)
    assert c.get(f"/v1/adapters/{name}/versions/1").json()["status"] == {"auto": "candidate"}.get(
        mode, answers[0]["status"])  # auto: production moved on to version 4
    assert [a["status"] for a in answers] == {
        "manual": ["candidate", "candidate", "rejected", "candidate"],
        "auto": ["production", "candidate", "rejected", "production"],
        "canary": ["candidate", "candidate", "rejected", "candidate"],
        "approval": ["pending_approval", "candidate", "rejected", "pending_approval"],
    }[mode]

    events = _events(runtime, name)
    registered = [e for e in events if e["event_type"] == "adapter.version_registered"]
    assert [e["version"] for e in registered] == [1, 2, 3, 4]
    assert registered[0]["details"] == {"config_sha256": seeded["config"], "evaluation_passed": True,
                                        "request_id": "r1"}
    follow = [(e["event_type"], e["version"], e.get("previous_version")) for e in events
              if e["event_type"] != "adapter.version_registered"]
    alias = {"auto": "production", "canary": "canary"}.get(mode)
    if alias is not None:
        assert follow == [("adapter.alias_moved", 1, None), ("adapter.alias_moved", 4, 1)]
        assert [a["moves"] for a in answers[1:3]] == [[], []]
        history = c.get(f"/v1/adapters/{name}/aliases/{alias}/history").json()
        assert [(m["from_version"], m["to_version"]) for m in history] == [(None, 1), (1, 4)]
        for answer, move in zip((answers[0], answers[3]), history, strict=True):
            assert answer["moves"] == [{
                "adapter": name, "alias": alias, "version": move["to_version"],
                "previous_version": move["from_version"], "weight": move["weight"], "event_id": move["event_id"],
                "moved_at": move["moved_at"], "moved_by": ACTORS["trainer"]}]
        assert answers[3]["aliases"] == {alias: 4}
        # every alias event follows its version's registration
        kinds = [e["event_type"] for e in events]
        assert kinds == ["adapter.version_registered", "adapter.alias_moved", "adapter.version_registered",
                         "adapter.version_registered", "adapter.version_registered", "adapter.alias_moved"]
    elif mode == "approval":
        assert follow == [("adapter.approval_requested", 1, None), ("adapter.approval_requested", 4, None)]
        assert all(a["moves"] == [] and a["aliases"] == {} for a in answers)
    else:
        assert follow == []
    audit = [(r["action"], r["target"]) for r in reversed(c.get("/v1/audit?limit=200").json())
             if r["target"].startswith(name)]
    registrations = [t for a, t in audit if a == "version.register"]
    assert registrations == [f"{name}@{n}" for n in (1, 2, 3, 4)]


def test_a_registration_is_three_statements_on_postgres(postgres: tuple[str, str], tmp_path: Path) -> None:
    settings = make_settings(postgres, tmp_path)
    runtime = build_runtime(settings)
    with TestClient(create_app(settings, runtime=runtime)) as c:
        counts: dict[str, int] = {}
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        assert runtime.pg is not None
        for mode in ("manual", "auto"):
            seeded = seed_adapter(c, mode=mode)
            _register(c, seeded, passed=True)
            statements.clear()
            # The registration's transaction goes through psycopg on the event loop (runtime.pg), none of it
            # through SQLAlchemy's engine: both are counted.
            event.listen(runtime.db.engine, "before_cursor_execute", count)
            runtime.pg.on_statement = statements.append
            try:
                _register(c, seeded, passed=True, request_id=f"job-{mode}")  # auto: production moves again
            finally:
                event.remove(runtime.db.engine, "before_cursor_execute", count)
                runtime.pg.on_statement = None
            counts[mode] = len(statements)
        assert counts == {"manual": 3, "auto": 3}


def test_a_registration_begins_again_on_a_fresh_connection_when_its_pooled_one_was_dropped(
        postgres: tuple[str, str], pg_dsn: str, tmp_path: Path) -> None:
    """The registration's own pool has no pre-ping: its first statements find a connection the server dropped
    (a restart, a cut network), and the transaction, which has done nothing yet, begins on a fresh one."""
    settings = make_settings(postgres, tmp_path)
    runtime = build_runtime(settings)
    with TestClient(create_app(settings, runtime=runtime)) as c:
        seeded = seed_adapter(c)
        assert _register(c, seeded)["version"] == 1
        assert runtime.pg is not None
        dropped = runtime.pg.idle_backend_pids()
        assert dropped
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            for pid in dropped:
                admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
            assert admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                                 (dropped,)).fetchone() == (0,)
        assert _register(c, seeded, request_id="after-the-drop")["version"] == 2
        assert not set(runtime.pg.idle_backend_pids()) & set(dropped)
