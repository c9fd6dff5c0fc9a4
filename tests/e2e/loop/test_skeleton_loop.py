"""The loop closes: a request, its log through drift, a retrain, a new version, and the swap.

Driven from outside with plain HTTP and Kafka clients only.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import httpx
from confluent_kafka import Consumer, Producer

from adaptloop_devstack.stack import Stack
from adaptloop_scenarios.corpus import generate_pairs

ADAPTER = "support"


def _wait_for(what: str, check, timeout_s: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last: {last!r}")


def _complete(stack: Stack, prompt: str) -> httpx.Response:
    resp = httpx.post(stack.config.url("inference") + "/v1/completions",
                      json={"model": ADAPTER, "prompt": prompt, "max_tokens": 16, "temperature": 0}, timeout=120)
    assert resp.status_code == 200, resp.text
    return resp


def test_every_service_is_ready(stack: Stack) -> None:
    for name in ("inference", "ingest", "registry", "trainer", "drift"):
        resp = httpx.get(stack.config.url(name) + "/readyz", timeout=5)
        assert resp.status_code == 200, (name, resp.text)
        assert httpx.get(stack.config.url(name) + "/metrics", timeout=5).status_code == 200


def test_loop_serves_a_version_that_did_not_exist(stack: Stack) -> None:
    admin = {"Authorization": f"Bearer {stack.tokens.token('admin')}"}
    trainer = {"Authorization": f"Bearer {stack.tokens.token('trainer')}"}
    registry = stack.config.url("registry")
    manifest = json.loads((stack.config.models_dir / "tiny-llama" / "manifest.json").read_text())

    resp = httpx.post(registry + "/v1/base-models", headers=admin, json={
        "name": "tiny-llama", "version": "1", "location": "tiny-llama",
        "weights_sha256": manifest["weights_sha256"]})
    assert resp.status_code in (200, 201), resp.text
    resp = httpx.post(registry + "/v1/adapters", headers=admin, json={
        "name": ADAPTER, "base_model": "tiny-llama",
        "training_config": {"steps": 30, "rank": 8, "learning_rate": 3e-3},
        "promotion_policy": {"mode": "auto"}})
    assert resp.status_code in (200, 201), resp.text
    versions_before = httpx.get(registry + f"/v1/adapters/{ADAPTER}/versions").json()
    assert _version_numbers(versions_before) == []

    pairs = generate_pairs("capital_markets", 48, seed=7)
    resp = httpx.post(stack.config.url("ingest") + "/v1/examples", headers=trainer,
                      json=[{"adapter": ADAPTER, "prompt": p.prompt, "answer": p.answer} for p in pairs])
    assert resp.status_code in (200, 201, 202), resp.text

    # Before any version exists the adapter's name is served by the base model.
    first = _complete(stack, pairs[0].prompt)
    assert first.headers["x-adaptloop-adapter-version"] == "base"

    # The request's log reaches drift through Kafka.
    _wait_for("drift to count the logged request", lambda: _drift_observations(stack) >= 1, 60)

    # A manual retrain request, as any producer would send it.
    request_id = str(uuid.uuid4())
    producer = Producer({"bootstrap.servers": stack.config.bootstrap})
    producer.produce("retrain.requested", key=ADAPTER.encode(), value=json.dumps({
        "event_id": request_id, "event_type": "retrain.requested", "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(), "model": ADAPTER, "reason": "manual",
        "drift_event_ids": [], "base_model": None, "requested_by": "e2e-test"}).encode())
    assert producer.flush(10) == 0

    moved = _await_registry_event(stack, "adapter.alias_moved", timeout_s=600)
    assert moved["alias"] == "production"
    new_version = moved["version"]
    assert new_version not in _version_numbers(versions_before)

    served = _wait_for(
        f"inference to serve version {new_version}",
        lambda: (r := _complete(stack, pairs[1].prompt)).headers["x-adaptloop-adapter-version"] == str(new_version)
        and r,
        120,
    )
    assert served.headers["x-adaptloop-adapter-version"] == str(new_version)


def _version_numbers(payload: object) -> list[int]:
    items = payload.get("versions", payload) if isinstance(payload, dict) else payload
    return [int(v["version"]) for v in items]  # type: ignore[union-attr]


def _drift_observations(stack: Stack) -> int:
    try:
        state = httpx.get(stack.config.url("drift") + "/v1/state", timeout=5).json()
    except httpx.HTTPError:
        return 0
    adapters = state.get("adapters", {})
    entry = adapters.get(ADAPTER) or {}
    return int(entry.get("observations", 0))


def _await_registry_event(stack: Stack, event_type: str, timeout_s: float) -> dict:
    consumer = Consumer({"bootstrap.servers": stack.config.bootstrap, "group.id": f"e2e-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": 10000})
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
