"""Helpers shared by the registry's integration tests: tokens, artifacts, servers, Kafka reads."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from adaptloop_devstack.broker import free_port
from adaptloop_devstack.inprocess import serve_app
from adaptloop_registry.bootstrap import create_app
from adaptloop_registry.config import Settings
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from safetensors.numpy import save

TOKENS = {"admin": "admin-token-1", "trainer": "trainer-token-1", "reader": "reader-token-1"}
ACTORS = {"admin": "alice", "trainer": "trainer-bot", "reader": "dashboard"}


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def token_spec() -> str:
    return ",".join(f"{ACTORS[r]}:{r}:{hashlib.sha256(t.encode()).hexdigest()}" for r, t in TOKENS.items())


def make_settings(db: tuple[str, str], tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db[0], "db_schema": db[1], "artifact_dir": str(tmp_path / "artifacts"),
        "tokens": token_spec(), "relay_enabled": False, "kafka_bootstrap": "127.0.0.1:1",
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": port})
    with serve_app(create_app(settings), port=port, limit_concurrency=200) as url:
        yield url


def safetensors_bytes(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    prefix = "base_model.model.layers.0.self_attn.q_proj"
    return save({f"{prefix}.lora_A.weight": rng.standard_normal((4, 64)).astype(np.float32),
                 f"{prefix}.lora_B.weight": np.zeros((64, 4), dtype=np.float32)})


def config_bytes(rank: int = 4) -> bytes:
    return json.dumps({"r": rank, "lora_alpha": 8, "target_modules": ["q_proj"], "peft_type": "LORA"}).encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


Put = Callable[..., Any]


def upload(put: Put, data: bytes, filename: str) -> str:
    """Upload through a client's `put` (TestClient or httpx); returns the sha256."""
    digest = sha(data)
    response = put(f"/v1/artifacts/{digest}", params={"filename": filename}, content=data, headers=auth("trainer"))
    assert response.status_code in (200, 201), response.text
    return digest


def seed_adapter(c: Any, name: str | None = None, *, mode: str = "manual", canary_min_requests: int = 10,
                 base_model: str = "tiny-llama") -> dict[str, str]:
    """A base model, an adapter and one pair of artifacts; returns names and artifact hashes."""
    name = name or f"a{uuid.uuid4().hex[:8]}"
    response = c.post("/v1/base-models", json={"name": base_model, "version": "1", "location": "var/models/tiny",
                                               "weights_sha256": "b" * 64}, headers=auth("admin"))
    assert response.status_code in (201, 409), response.text
    response = c.post("/v1/adapters", json={"name": name, "base_model": base_model, "training_config": {"lr": 1e-4},
                                            "promotion_policy": {"mode": mode, "canary_weight": 0.2,
                                                                 "canary_min_requests": canary_min_requests}},
                      headers=auth("admin"))
    assert response.status_code == 201, response.text
    weights = upload(c.put, safetensors_bytes(), "adapter_model.safetensors")
    config = upload(c.put, config_bytes(), "adapter_config.json")
    return {"name": name, "weights": weights, "config": config}


def version_body(seeded: dict[str, str], *, passed: bool | None = None, request_id: str | None = None,
                 **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "weights_sha256": seeded["weights"], "config_sha256": seeded["config"], "dataset_snapshot_id": "snap-1",
        "dataset_sha256": "d" * 64, "training_config": {"lr": 1e-4, "epochs": 1}, "seed": 7,
        "code_revision": "abc123", "metrics": {"loss": 0.5}, "request_id": request_id,
    }
    if passed is not None:
        body["evaluation"] = {"passed": passed, "metrics": {"accuracy": 0.9}, "verdict": "gate"}
    body.update(extra)
    return body


def consume(bootstrap: str, topic: str, *, until: Callable[[list[Any]], bool], timeout_s: float = 30.0) -> list[Any]:
    """Read `topic` from the beginning until `until(messages)` holds or the deadline passes."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])  # no group join: fast
    messages: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not until(messages):
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            messages.append(msg)
        return messages
    finally:
        consumer.close()


def event_of(msg: Any) -> dict[str, Any]:
    return json.loads(msg.value())
