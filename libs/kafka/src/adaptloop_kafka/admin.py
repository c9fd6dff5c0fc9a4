"""Topic creation and broker reachability, used before any service starts."""

from __future__ import annotations

import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import NewTopic

from adaptloop_kafka.clients import BrokerTarget, new_admin
from adaptloop_kafka.connection import KafkaConnection


class BrokerUnavailable(RuntimeError):
    pass


def wait_for_broker(bootstrap: BrokerTarget, *, timeout_s: float = 30.0) -> None:
    """Poll the broker's metadata until it answers or the deadline passes."""
    admin = new_admin(bootstrap)
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=2.0)
            return
        except KafkaException as exc:
            last = exc
        time.sleep(0.2)
    where = KafkaConnection.of(bootstrap).bootstrap
    raise BrokerUnavailable(f"Kafka broker at {where} did not answer within {timeout_s}s: {last}")


def ensure_topics(
    bootstrap: BrokerTarget, topics: dict[str, int], *, timeout_s: float = 30.0, replication_factor: int = 1
) -> list[str]:
    """Create the missing topics with their partition counts; return the names created."""
    admin = new_admin(bootstrap)
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    missing = [
        NewTopic(name, num_partitions=n, replication_factor=replication_factor)
        for name, n in topics.items()
        if name not in existing
    ]
    if not missing:
        return []
    futures = admin.create_topics(missing, operation_timeout=timeout_s, request_timeout=timeout_s)
    created = []
    for name, fut in futures.items():
        try:
            fut.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        present = set(admin.list_topics(timeout=timeout_s).topics)
        if all(name in present for name in topics):
            return created
        time.sleep(0.1)
    raise BrokerUnavailable(f"topics not visible after creation: {sorted(set(topics) - present)}")
