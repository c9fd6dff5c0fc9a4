"""Fixtures for ingest integration tests: the real service on the run's broker and database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from adaptloop_contracts import TopicNames
from adaptloop_kafka import EventProducer
from ingest_support import RunningIngest, make_settings


@pytest.fixture
def ingest_factory(kafka_bootstrap: str, topics: TopicNames, pg_dsn: str, pg_schema: str
                   ) -> Iterator[Callable[..., RunningIngest]]:
    """Starts ingest with this test's topics and schema; settings can be overridden per test."""
    running: list[RunningIngest] = []

    def start(**overrides: Any) -> RunningIngest:
        service = RunningIngest(make_settings(kafka_bootstrap, topics, pg_dsn, pg_schema, **overrides))
        running.append(service.__enter__())
        return service

    yield start
    for service in reversed(running):
        service.__exit__()


@pytest.fixture
def ingest(ingest_factory: Callable[..., RunningIngest]) -> RunningIngest:
    """Ingest with its example-store consumer."""
    return ingest_factory()


@pytest.fixture
def ingest_api(ingest_factory: Callable[..., RunningIngest]) -> RunningIngest:
    """Ingest without the example-store consumer (ready faster; for REST-only tests)."""
    return ingest_factory(consumer_enabled=False)


@pytest.fixture
def producer(kafka_bootstrap: str, topics: TopicNames) -> Iterator[EventProducer]:
    """Publishes straight to this test's topics, as the inference service or a user's producer would."""
    events = EventProducer(kafka_bootstrap, topics=topics, client_id="test-producer")
    yield events
    events.flush()
