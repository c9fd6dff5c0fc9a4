"""Fixtures of the drift integration tests (helpers in drift_testkit.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from adaptloop_contracts import TopicNames
from adaptloop_devstack.broker import free_port
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
