"""A full log queue drops and counts instead of blocking the request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from adaptloop_contracts import InferenceLog
from adaptloop_inference.infra.kafka_logs import KafkaLogPublisher
from adaptloop_kafka import EventProducer


@pytest.fixture
def producers() -> Iterator[list[EventProducer]]:
    """Producers the test builds against no broker, closed when it ends (passed or failed) with nothing queued,
    so none keeps retrying the address in the log of later tests."""
    made: list[EventProducer] = []
    yield made
    for producer in made:
        producer.raw.purge()
        producer.raw.close()


def test_a_full_queue_drops_and_counts(producers: list[EventProducer]) -> None:
    def nowhere() -> EventProducer:
        producers.append(EventProducer("127.0.0.1:1"))
        return producers[-1]

    publisher = KafkaLogPublisher(nowhere, queue_size=2, batch_size=10, scrub=lambda log: log)
    event = InferenceLog(model="support", request_id="r", base_model="tiny", prompt="p", completion="c",
                         prompt_tokens=1, completion_tokens=1, latency_ms=1.0)
    results = [publisher.submit(event, key="support", headers=[]) for _ in range(3)]
    assert results == [True, True, False]
    assert publisher.counts == {"delivered": 0, "dropped": 1, "queued": 2}
