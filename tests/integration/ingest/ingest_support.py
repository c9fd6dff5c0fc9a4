"""Helpers for ingest integration tests (a unique module name: test directories share `sys.path`)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import uvicorn
from adaptloop_common.auth import token_digest
from adaptloop_contracts import TopicNames
from adaptloop_devstack.broker import free_port
from adaptloop_devstack.postgres import sqlalchemy_url
from adaptloop_ingest.bootstrap import create_app
from adaptloop_ingest.config import Settings
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

WRITER_TOKEN = "writer-token-for-tests"
READER_TOKEN = "reader-token-for-tests"
WRITER = {"Authorization": f"Bearer {WRITER_TOKEN}"}
READER = {"Authorization": f"Bearer {READER_TOKEN}"}
TOKENS = f"writer:trainer:{token_digest(WRITER_TOKEN)},reader:reader:{token_digest(READER_TOKEN)}"

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, timeout_s: float = 30.0, interval_s: float = 0.1, what: str = "") -> T:
    """Poll `probe` until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what or probe}; last: {last!r}")


def read_topic(bootstrap: str, topic: str, *, expect: int, timeout_s: float = 30.0) -> list[Any]:
    """Every message of `topic` from the start, once at least `expect` arrived (or the deadline passed)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        messages: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(messages) < expect and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                messages.append(msg)
        return messages
    finally:
        consumer.close()


def make_settings(kafka_bootstrap: str, topics: TopicNames, pg_dsn: str, pg_schema: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap": kafka_bootstrap,
        "topic_prefix": topics.prefix,
        "database_url": sqlalchemy_url(pg_dsn),
        "db_schema": pg_schema,
        "consumer_group": f"ingest-examples-{uuid.uuid4().hex[:8]}",
        "tokens": TOKENS,
        "port": free_port(),
    }
    values.update(overrides)
    return Settings(**values)


class RunningIngest:
    """The ingest app served by uvicorn in a thread, on a free loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.client = httpx.Client(base_url=self.url, timeout=60.0)

    def __enter__(self) -> RunningIngest:
        self.thread.start()

        def ready() -> bool:
            if not self.thread.is_alive():
                raise AssertionError("ingest server stopped during start-up")
            try:
                return self.client.get("/readyz").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, timeout_s=60.0, what="ingest /readyz")
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(30)

    def export(self, adapter: str, **params: Any) -> list[dict[str, Any]]:
        import json

        response = self.client.get("/v1/examples", params={"adapter": adapter, **params}, headers=READER)
        assert response.status_code == 200, response.text
        return [json.loads(line) for line in response.text.splitlines() if line]


def log_payload(adapter: str = "support", **fields: Any) -> dict[str, Any]:
    """A valid `inference.log` body as a REST producer would send it (no event_id, no occurred_at)."""
    payload: dict[str, Any] = {
        "model": adapter,
        "request_id": uuid.uuid4().hex,
        "adapter_version": 1,
        "base_model": "tiny-llama",
        "prompt": f"How do I reset my password? ({uuid.uuid4().hex[:6]})",
        "completion": "Open settings, choose security and follow the reset link.",
        "prompt_tokens": 9,
        "completion_tokens": 11,
        "latency_ms": 12.5,
        "mean_logprob": -0.7,
    }
    payload.update(fields)
    return payload
