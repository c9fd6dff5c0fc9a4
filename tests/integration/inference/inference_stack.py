"""Test support for the inference service: the real parts live in `adaptloop_devstack.inference_stack`
(shared with the benchmarks); completions and the inference-log reader are the tests' own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from adaptloop_contracts import InferenceLog, TopicNames
from adaptloop_devstack.inference_stack import (
    ADMIN_TOKEN,
    PROMPTS,
    PROMPTS_20,
    TICKET,
    TOOLS,
    TRAINER_TOKEN,
    InferenceService,
    LoraFactory,
    Registry,
    digest,
    sha256_file,
    spawn,
    wait_until,
)
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

__all__ = [
    "ADMIN_TOKEN", "PROMPTS", "PROMPTS_20", "TICKET", "TOOLS", "TRAINER_TOKEN", "InferenceService", "LoraFactory",
    "Registry", "complete", "digest", "read_logs", "sha256_file", "spawn", "wait_until",
]


def complete(url: str, model: str, prompt: str, *, max_tokens: int = 16, user: str | None = None,
             client: httpx.Client | None = None) -> tuple[str, str]:
    """Greedy completion: (text, value of x-adaptloop-adapter-version)."""
    body: dict[str, Any] = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0}
    if user is not None:
        body["user"] = user
    response = (client or httpx).post(f"{url}/v1/completions", json=body, timeout=120)  # type: ignore[attr-defined]
    if response.status_code != 200:
        raise AssertionError(f"completion for {model} -> {response.status_code}: {response.text}")
    return response.json()["choices"][0]["text"], response.headers["x-adaptloop-adapter-version"]


def read_logs(bootstrap: str, topics: TopicNames, key: str, count: int, timeout_s: float,
              until: Callable[[list[Any]], bool] | None = None) -> list[Any]:
    """Up to `count` inference logs keyed `key` (event, headers), read from the start of the topic
    (stops early once `until` holds for what was read)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False})
    topic = topics("inference.logs")
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    found: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() or msg.key() != key.encode():
                continue
            found.append((InferenceLog.from_json_bytes(msg.value()), dict(msg.headers() or [])))
            if until is not None and until(found):
                break
    finally:
        consumer.close()
    return found
