"""Invalid messages on any contract topic land in its `.dlq` with the reason; the consumer goes on."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from adaptloop_contracts import TOPICS, InferenceLog, TopicNames
from adaptloop_devstack.topic_reader import read_from_start
from adaptloop_kafka import DLQ_HEADERS, ConsumedEvent, EventConsumer, EventProducer


def _valid_log() -> InferenceLog:
    return InferenceLog(model="support", request_id="r", base_model="tiny", prompt="p", completion="c",
                        prompt_tokens=1, completion_tokens=1, latency_ms=1.0)


@pytest.mark.parametrize("topic_base", sorted(TOPICS))
def test_invalid_messages_go_to_dlq_and_consumer_continues(
    kafka_bootstrap: str, topics: TopicNames, topic_base: str
) -> None:
    producer = EventProducer(kafka_bootstrap, topics=topics)
    poison = [b"{not json", b'{"event_type": "wrong"}', b"\xff\xfe"]
    for raw in poison:
        producer.produce_raw(topics(topic_base), raw, key=b"support", headers=None)
    valid_count = 0
    if topic_base == "inference.logs":
        producer.publish("inference.logs", _valid_log())
        valid_count = 1
    assert producer.flush(10) == 0

    handled: list[ConsumedEvent] = []
    consumer = EventConsumer(kafka_bootstrap, group_id=f"g-{uuid.uuid4()}", topic_bases=[topic_base],
                             producer=producer, topics=topics)
    thread = threading.Thread(target=consumer.run, args=(handled.append,), daemon=True)
    thread.start()
    try:
        dead = read_from_start(kafka_bootstrap, topics.dlq(topic_base), want=len(poison))
        deadline = time.monotonic() + 30
        while len(handled) < valid_count and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        consumer.stop()
        thread.join(15)

    assert [m.value() for m in dead] == poison
    for msg in dead:
        headers = {k: v.decode() for k, v in msg.headers()}
        assert set(DLQ_HEADERS) <= set(headers)
        assert headers["adaptloop-dlq-source-topic"] == topics(topic_base)
        assert headers["adaptloop-dlq-error"]
    reasons = [dict(m.headers())["adaptloop-dlq-error"].decode() for m in dead]
    assert "not JSON" in reasons[0]
    assert "not UTF-8" in reasons[2]
    assert len(handled) == valid_count
