"""The trainer's `retrain.requested` consumer through the real broker, without a stack: poison first, then valid."""

from __future__ import annotations

import threading
import time
import uuid

from adaptloop_contracts import RetrainRequested, TopicNames
from adaptloop_devstack.topic_reader import read_from_start
from adaptloop_kafka import EventProducer
from adaptloop_trainer.infra.kafka import RetrainRequestConsumer


def test_a_malformed_request_is_dead_lettered_and_the_valid_one_behind_it_accepted(
    kafka_bootstrap: str, topics: TopicNames,
) -> None:
    producer = EventProducer(kafka_bootstrap, topics=topics)
    topic = topics("retrain.requested")
    valid = RetrainRequested(model="support", reason="manual", requested_by="tests")
    producer.produce_raw(topic, b'{"event_type": "retrain.requested", "model": "support", "reason": "whim"}',
                         key=b"support", headers=None)
    producer.produce_raw(topic, valid.to_json_bytes(), key=b"support", headers=None)
    assert producer.flush(10) == 0

    accepted: list[RetrainRequested] = []

    def accept(request: RetrainRequested, _traceparent: str | None) -> uuid.UUID:
        accepted.append(request)
        return uuid.uuid4()

    consumer = RetrainRequestConsumer(kafka_bootstrap, group_id=f"trainer-{uuid.uuid4().hex[:6]}", topics=topics,
                                      producer=producer, accept=accept, job_is_final=lambda _job: True)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        consumer.stop()
        thread.join(15)
    assert [r.event_id for r in accepted] == [valid.event_id]
    dead = read_from_start(kafka_bootstrap, topics.dlq("retrain.requested"), want=1)
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers()}
    assert headers["adaptloop-dlq-source-topic"] == topic and headers["adaptloop-dlq-source-offset"] == "0"
    assert "reason" in headers["adaptloop-dlq-error"] and "requested_by" in headers["adaptloop-dlq-error"]
