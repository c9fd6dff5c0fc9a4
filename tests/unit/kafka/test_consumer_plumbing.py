"""The shared consumer plumbing without a broker: dead letters, end of partition, commit retries,
the deduplication window and the consumer thread's restarts (fakes of the producer and librdkafka client)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from adaptloop_contracts import RegistryEvent, TopicNames
from adaptloop_devstack.waiting import wait_for
from adaptloop_kafka import (
    DLQ_HEADERS,
    ConsumedEvent,
    ConsumerThread,
    DeadLetterFailed,
    DeadLetters,
    EventConsumer,
    RejectedEvent,
    SeenEvents,
    SourceRecord,
    commit_offset,
    consumer_config,
    is_record,
    remember,
)
from adaptloop_kafka.producer import PublishError
from confluent_kafka import KafkaError, KafkaException, Message

NOWHERE = "127.0.0.1:1"
TOPICS = TopicNames("t1-")


class FakeProducer:
    """Records `produce_raw` calls; acknowledges them, fails them, or never answers."""

    def __init__(self, outcome: str = "ack") -> None:
        self.topics = TOPICS
        self.outcome = outcome
        self.sent: list[dict[str, Any]] = []

    def produce_raw(self, topic: str, value: bytes | None, *, key: bytes | None, headers: Any,
                    on_delivery: Any = None) -> None:
        self.sent.append({"topic": topic, "value": value, "key": key, "headers": dict(headers)})
        if self.outcome != "silent":
            on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT) if self.outcome == "fail" else None, None)

    def wait(self, done: threading.Event, timeout_s: float) -> None:
        if not done.is_set():
            raise PublishError(f"no broker acknowledgement within {timeout_s}s")


class FakeClient:
    """Stands in for librdkafka's consumer: commits fail `failures` times, then succeed."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.commits: list[tuple[str, int, int]] = []

    def commit(self, *, offsets: list[Any], asynchronous: bool) -> None:
        assert asynchronous is False
        if self.failures:
            self.failures -= 1
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        self.commits.extend((tp.topic, tp.partition, tp.offset) for tp in offsets)

    def close(self) -> None:
        pass


def _message(value: bytes, *, topic: str = "t1-registry.events", offset: int = 7) -> Message:
    return Message(topic=topic, partition=2, offset=offset, key=b"support", value=value,
                   headers=[("traceparent", b"00-x")])


def _event(version: int = 2) -> RegistryEvent:
    return RegistryEvent(event_type="adapter.alias_moved", model="support", alias="production", version=version,
                         actor="tests")


def _consumer(producer: FakeProducer, client: FakeClient) -> EventConsumer:
    consumer = EventConsumer(NOWHERE, group_id="g-1", topic_bases=["registry.events"], producer=producer,  # type: ignore[arg-type]
                             topics=TOPICS)
    consumer._consumer.close()
    consumer._consumer = client  # type: ignore[assignment]
    return consumer


def test_a_dead_letter_goes_to_the_dlq_topic_of_its_source_with_the_coordinates_and_the_reason() -> None:
    producer = FakeProducer()
    letters = DeadLetters(producer, consumer="g-1", topics=TOPICS)  # type: ignore[arg-type]
    letters.write(SourceRecord.of(_message(b"{")), "not JSON")
    [sent] = producer.sent
    assert sent["topic"] == TOPICS.dlq("registry.events") == "t1-registry.events.dlq"
    assert (sent["key"], sent["value"]) == (b"support", b"{")
    assert sent["headers"]["traceparent"] == b"00-x"
    assert [sent["headers"][h] for h in DLQ_HEADERS] == [b"t1-registry.events", b"2", b"7", b"not JSON", b"g-1"]
    assert letters.topic_for("drift-x.control") == "drift-x.control.dlq"


@pytest.mark.parametrize("outcome", ["fail", "silent"])
def test_a_dead_letter_the_broker_did_not_acknowledge_raises(outcome: str) -> None:
    letters = DeadLetters(FakeProducer(outcome), consumer="g", topics=TOPICS)  # type: ignore[arg-type]
    with pytest.raises(DeadLetterFailed, match=r"t1-registry\.events\[2\]@7"):
        letters.write(SourceRecord.of(_message(b"{")), "not JSON")


def test_poison_and_rejected_events_are_dead_lettered_and_committed_valid_ones_handled() -> None:
    producer, client = FakeProducer(), FakeClient()
    consumer = _consumer(producer, client)
    handled: list[ConsumedEvent] = []

    def handler(consumed: ConsumedEvent) -> None:
        if isinstance(consumed.event, RegistryEvent) and consumed.event.version == 9:
            raise RejectedEvent("unknown version 9")
        handled.append(consumed)

    consumer.handle_message(_message(b'{"event_type": "adapter.alias_moved"', offset=1), handler)
    consumer.handle_message(_message(_event(9).to_json_bytes(), offset=2), handler)
    good = _event(2)
    consumer.handle_message(_message(good.to_json_bytes(), offset=3), handler)

    assert [c.event.event_id for c in handled] == [good.event_id] and handled[0].offset == 3
    assert [s["headers"]["adaptloop-dlq-source-offset"] for s in producer.sent] == [b"1", b"2"]
    assert producer.sent[1]["headers"]["adaptloop-dlq-error"] == b"unknown version 9"
    assert client.commits == [("t1-registry.events", 2, 2), ("t1-registry.events", 2, 3), ("t1-registry.events", 2, 4)]


def test_poison_whose_dead_letter_fails_is_not_committed() -> None:
    client = FakeClient()
    consumer = _consumer(FakeProducer("fail"), client)
    with pytest.raises(DeadLetterFailed):
        consumer.handle_message(_message(b"{"), lambda _c: None)
    assert client.commits == []


def test_a_failed_commit_is_retried_and_gives_up_after_the_last_attempt() -> None:
    client = FakeClient(failures=2)
    assert commit_offset(client, "t", 1, 5, backoff_s=0.0) is True  # type: ignore[arg-type]
    assert client.commits == [("t", 1, 5)]
    hopeless = FakeClient(failures=99)
    assert commit_offset(hopeless, "t", 1, 5, attempts=3, backoff_s=0.0) is False  # type: ignore[arg-type]
    assert hopeless.failures == 96


def test_the_end_of_a_partition_and_client_errors_are_not_records() -> None:
    assert is_record(_message(b"{}"))
    assert not is_record(None)
    assert not is_record(Message(topic="t", error=KafkaError(KafkaError._PARTITION_EOF)))
    assert not is_record(Message(topic="t", error=KafkaError(KafkaError._TRANSPORT)))


def test_a_consumers_own_options_win_over_the_defaults_and_the_shared_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTLOOP_KAFKA_CLIENT_CONFIG", '{"fetch.wait.max.ms": 500, "client.rack": "r1"}')
    config = consumer_config(NOWHERE, group_id="g", overrides={"auto.offset.reset": "latest", "fetch.wait.max.ms": 10})
    assert config["group.id"] == "g" and config["enable.auto.commit"] is False
    assert config["auto.offset.reset"] == "latest" and config["fetch.wait.max.ms"] == 10
    assert config["client.rack"] == "r1"


def test_the_dedup_window_drops_a_redelivery_and_forgets_the_oldest() -> None:
    window: list[str] = []
    for event_id in ("a", "b", "c"):
        updated = remember(window, event_id, 2)
        assert updated is not None
        window = updated
    assert window == ["b", "c"]
    assert remember(window, "c", 2) is None
    assert remember(window, "a", 2) == ["c", "a"]
    assert remember([], "a", 1) == ["a"] and remember(["a"], "b", 1) == ["b"]

    seen = SeenEvents(2)
    assert [seen.first_delivery(i) for i in ("a", "a", "b", "c", "a")] == [True, False, True, True, True]
    assert len(seen) == 2 and "a" in seen and "b" not in seen


class ScriptedConsumer:
    """An `EventConsumer` stand-in whose `run` crashes or waits for `stop`."""

    def __init__(self, crash: bool) -> None:
        self.crash = crash
        self.assigned = threading.Event()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self, _handler: Any) -> None:
        if self.crash:
            raise RuntimeError("boom")
        self.assigned.set()
        self._stop.wait(10)


def test_a_crashed_loop_is_restarted_with_a_fresh_consumer_or_ends_without_restart() -> None:
    made: list[ScriptedConsumer] = []
    crashes: list[int] = []

    def make() -> ScriptedConsumer:
        made.append(ScriptedConsumer(crash=len(made) == 0))
        return made[-1]

    thread = ConsumerThread(make, lambda _c: None, name="t", restart_backoff_s=0.0,  # type: ignore[arg-type]
                            on_crash=lambda: crashes.append(1))
    thread.start()
    wait_for("a restarted consumer", lambda: len(made) >= 2 and made[-1].assigned.is_set(), 10, interval_s=0.01)
    assert thread.assigned and crashes == [1]
    thread.stop()
    assert not thread.assigned

    once = ConsumerThread(lambda: ScriptedConsumer(crash=True), lambda _c: None, name="t",  # type: ignore[arg-type, return-value]
                          restart_backoff_s=None, on_crash=lambda: crashes.append(2))
    once.start()
    once._thread.join(10)
    assert not once._thread.is_alive() and crashes == [1, 2]

