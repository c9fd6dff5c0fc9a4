"""Fixtures of the drift integration tests (helpers in drift_testkit.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from adaptloop_contracts import TopicNames
from adaptloop_devstack.broker import BrokerProcess, free_port, start_broker
from adaptloop_kafka import EventProducer
from drift_testkit import DriftProcess, TopicReader


@pytest.fixture
def drift_service(kafka_bootstrap: str, topics: TopicNames, tmp_path: Path) -> Iterator[DriftProcess]:
    svc = DriftProcess(kafka_bootstrap, topics, tmp_path / "data", free_port(), tmp_path / "drift.log")
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture
def producer(kafka_bootstrap: str, topics: TopicNames) -> Iterator[EventProducer]:
    p = EventProducer(kafka_bootstrap, topics=topics, config={"linger.ms": 20})
    yield p
    p.flush(10.0)


@pytest.fixture
def reader_factory(kafka_bootstrap: str) -> Iterator[Callable[[list[str]], TopicReader]]:
    readers: list[TopicReader] = []

    def make(names: list[str]) -> TopicReader:
        r = TopicReader(kafka_bootstrap, names)
        readers.append(r)
        return r

    yield make
    for r in readers:
        r.close()


@pytest.fixture
def private_brokers(tmp_path: Path) -> Iterator[Callable[[], BrokerProcess]]:
    """Fresh, empty brokers of this test's own (the run's shared broker is never stopped); all stopped at the end."""
    started: list[BrokerProcess] = []

    def start() -> BrokerProcess:
        broker = start_broker(free_port(), log_path=tmp_path / f"broker-{len(started)}.log")
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.stop()
