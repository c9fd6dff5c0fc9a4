"""Everything a test's topics hold, for tests that look for what must never be on the bus."""

from __future__ import annotations

import time
import uuid

from adaptloop_contracts import TopicNames
from adaptloop_kafka import BrokerTarget, new_consumer
from confluent_kafka import OFFSET_BEGINNING, TopicPartition


def read_every_topic(target: BrokerTarget, topics: TopicNames, *, timeout_s: float = 30.0) -> list[bytes]:
    """Keys, values and header values of every message in every topic under the prefix, up to the end."""
    consumer = new_consumer(target, {"group.id": f"dump-{uuid.uuid4().hex}", "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=10)
        names = [t for t in metadata.topics if t.startswith(topics.prefix) and not t.startswith("__")]
        ends: dict[tuple[str, int], int] = {}
        for name in names:
            for p in metadata.topics[name].partitions:
                _low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                if high > 0:
                    ends[(name, p)] = high
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in ends])
        blobs: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while ends and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            blobs += [msg.key() or b"", msg.value() or b""]
            for header in msg.headers() or []:
                value = header[1]
                blobs.append(value if isinstance(value, bytes) else str(value or "").encode())
            position = (msg.topic() or "", msg.partition() or 0)
            if (msg.offset() or 0) + 1 >= ends.get(position, 0):
                ends.pop(position, None)
        if ends:
            raise AssertionError(f"could not read to the end of {sorted(ends)} within {timeout_s}s")
        return blobs
    finally:
        consumer.close()
