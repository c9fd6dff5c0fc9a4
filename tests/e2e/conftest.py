"""The whole stack, started once for the end-to-end tests the way `make up` starts it.

It runs on free loopback ports with its own broker, database and state directory, so it
never collides with a stack a developer has running. Nothing is mocked: the real broker,
PostgreSQL, vLLM engine and all five services as separate processes.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from adaptloop_devstack.broker import free_ports
from adaptloop_devstack.paths import var_dir
from adaptloop_devstack.stack import DEFAULT_PORTS, Stack, StackConfig, StackError, process_running
from adaptloop_devstack.waiting import wait_for
from adaptloop_kafka import GROUP_SESSION_TIMEOUT_MS
from adaptloop_scenarios.corpus import generate_pairs
from confluent_kafka import Consumer, Producer
from e2e_waits import DRIFT_COUNTED_S, LISTED_S, SERVED_S, SWAP_S, timeout_for


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    models = var_dir() / "models"
    if not (models / "tiny-llama" / "manifest.json").exists():
        pytest.fail(
            "the tiny base model is missing at var/models/tiny-llama: run `make model` (make test does)", pytrace=False
        )
    home = Path(tmp_path_factory.mktemp("stack"))
    config = StackConfig(
        home=home,
        ports=dict(zip(DEFAULT_PORTS, free_ports(len(DEFAULT_PORTS)), strict=True)),
        database=f"adaptloop_e2e_{uuid.uuid4().hex[:8]}",
        models_dir=models,
        extra_env={
            "ADAPTLOOP_SPAN_FILE": str(home / "spans.jsonl"),
            # One alarm is enough to request a retrain here, so the loop closes on short traffic.
            "ADAPTLOOP_DRIFT_POLICY_MIN_AGREEING_SIGNALS": "1",
            # Rollout acceptance: a canary graduates after 60 requests without a drop (every request is
            # rated here), and the guard watches 3,000 ratings so the steady run stays inside it.
            "ADAPTLOOP_DRIFT_ROLLOUT_GRADUATE_AFTER_REQUESTS": "60",
            "ADAPTLOOP_DRIFT_ROLLOUT_GUARD_WINDOW_EVENTS": "3000",
        },
    )
    running = Stack(config)
    try:
        running.up()
    except StackError as exc:
        running.down()
        pytest.fail(f"the local stack did not start: {exc}", pytrace=False)
    pids = {name: running.pid_of(name) for name in ("broker", *DEFAULT_PORTS) if running.pid_of(name)}
    try:
        yield running
    finally:
        running.down()
        survivors = [f"{name} (pid {pid})" for name, pid in pids.items() if process_running(pid)]
        from adaptloop_devstack.postgres import drop_database, ensure_database

        drop_database(ensure_database(config.database))
        assert not survivors, f"`down` left processes of the stack running: {survivors}"


ADAPTER = "support"
SERVICES = ("inference", "ingest", "registry", "trainer", "drift", "dashboard")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that may be the one to set up the shared stack pays for its waits on top of its own budget."""
    for item in items:
        limit = timeout_for(set(getattr(item, "fixturenames", ())))
        if limit is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(limit))


def complete(stack: Stack, prompt: str) -> httpx.Response:
    resp = httpx.post(
        stack.config.url("inference") + "/v1/completions",
        json={"model": ADAPTER, "prompt": prompt, "max_tokens": 16, "temperature": 0},
        timeout=120,
    )
    assert resp.status_code == 200, resp.text
    return resp


@dataclass(frozen=True)
class ClosedLoop:
    versions_before: list[int]
    first_header: str
    new_version: int
    served_header: str
    alias_moved: dict


@pytest.fixture(scope="session")
def closed_loop(stack: Stack) -> ClosedLoop:
    """Register, log a request, request a retrain, and wait until the new version serves."""
    admin = {"Authorization": f"Bearer {stack.tokens.token('admin')}"}
    trainer = {"Authorization": f"Bearer {stack.tokens.token('trainer')}"}
    registry = stack.config.url("registry")
    manifest = json.loads((stack.config.models_dir / "tiny-llama" / "manifest.json").read_text())

    resp = httpx.post(
        registry + "/v1/base-models",
        headers=admin,
        json={
            "name": "tiny-llama",
            "version": "1",
            "location": "tiny-llama",
            "weights_sha256": manifest["weights_sha256"],
        },
    )
    assert resp.status_code == 201, resp.text
    resp = httpx.post(
        registry + "/v1/adapters",
        headers=admin,
        json={
            "name": ADAPTER,
            "base_model": "tiny-llama",
            "training_config": {"steps": 30, "rank": 8, "learning_rate": 3e-3},
            "promotion_policy": {"mode": "auto"},
        },
    )
    assert resp.status_code == 201, resp.text
    versions_before = _version_numbers(httpx.get(registry + f"/v1/adapters/{ADAPTER}/versions").json())

    pairs = generate_pairs("capital_markets", 48, seed=7)
    resp = httpx.post(
        stack.config.url("ingest") + "/v1/examples",
        headers=trainer,
        json=[{"adapter": ADAPTER, "prompt": p.prompt, "answer": p.answer} for p in pairs],
    )
    assert resp.status_code == 201, resp.text

    # Inference learns of new adapters from the registry's serving plan (periodic reconciliation).
    wait_for("inference to list the adapter", lambda: _lists_model(stack, ADAPTER), LISTED_S)
    first = complete(stack, pairs[0].prompt)
    wait_for("drift to count the logged request", lambda: _drift_observations(stack) >= 1, DRIFT_COUNTED_S)

    producer = Producer({"bootstrap.servers": stack.config.bootstrap})
    producer.produce(
        "retrain.requested",
        key=ADAPTER.encode(),
        value=json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "retrain.requested",
                "schema_version": 1,
                "occurred_at": datetime.now(UTC).isoformat(),
                "model": ADAPTER,
                "reason": "manual",
                "drift_event_ids": [],
                "base_model": None,
                "requested_by": "e2e-test",
            }
        ).encode(),
    )
    assert producer.flush(10) == 0

    moved = _await_registry_event(stack, "adapter.alias_moved", timeout_s=SWAP_S)
    new_version = int(moved["version"])
    served = wait_for(
        f"inference to serve version {new_version}",
        lambda: (
            (r := complete(stack, pairs[1].prompt)).headers["x-adaptloop-adapter-version"] == str(new_version) and r
        ),
        SERVED_S,
    )
    return ClosedLoop(
        versions_before,
        first.headers["x-adaptloop-adapter-version"],
        new_version,
        served.headers["x-adaptloop-adapter-version"],
        moved,
    )


def _version_numbers(payload: object) -> list[int]:
    items = payload.get("versions", payload) if isinstance(payload, dict) else payload
    return [int(v["version"]) for v in items]  # type: ignore[union-attr]


def _lists_model(stack: Stack, name: str) -> bool:
    try:
        models = httpx.get(stack.config.url("inference") + "/v1/models", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return False
    return any(m.get("id") == name for m in models.get("data", []))


def _drift_observations(stack: Stack) -> int:
    """Events drift has taken in for the adapter (logs plus ratings), from its state endpoint."""
    try:
        state = httpx.get(stack.config.url("drift") + "/v1/state", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return 0
    entries = [e for e in state.get("adapters", []) if e.get("adapter") == ADAPTER]
    return sum(int(e.get("logs", 0)) + int(e.get("ratings", 0)) for e in entries)


def _await_registry_event(stack: Stack, event_type: str, timeout_s: float) -> dict:
    consumer = Consumer(
        {
            "bootstrap.servers": stack.config.bootstrap,
            "group.id": f"e2e-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
        }
    )
    consumer.subscribe(["registry.events"])
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            event = json.loads(msg.value())
            if event["event_type"] == event_type and event["model"] == ADAPTER:
                return event
    finally:
        consumer.close()
    raise AssertionError(f"no {event_type} for {ADAPTER} on registry.events within {timeout_s}s")
