"""Fixtures shared by the whole test run: one real broker, one real PostgreSQL database.

Nothing here skips: when a part cannot start, the fixture fails with which part and why.
Each test isolates itself with a unique topic prefix (`topics`) or its own schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from adaptloop_contracts import TopicNames


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Kafka-protocol broker for this test run (ADAPTLOOP_TEST_KAFKA to use an existing one)."""
    existing = os.environ.get("ADAPTLOOP_TEST_KAFKA")
    if existing:
        yield existing
        return
    from adaptloop_devstack.broker import BrokerStartError, free_port, start_broker

    log = Path(tmp_path_factory.mktemp("broker")) / "broker.log"
    try:
        broker = start_broker(free_port(), log_path=log)
    except BrokerStartError as exc:
        pytest.fail(f"Kafka broker could not start: {exc}", pytrace=False)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def topics(kafka_bootstrap: str) -> TopicNames:
    """A unique prefix so each test has its own copy of every contract topic (created up front)."""
    from adaptloop_kafka import ensure_topics

    names = TopicNames(f"t{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_bootstrap, names.all_with_partitions())
    return names


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    from adaptloop_devstack.postgres import PostgresUnavailable, create_test_database, drop_database

    try:
        dsn = create_test_database()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL unavailable: {exc}", pytrace=False)
    try:
        yield dsn
    finally:
        drop_database(dsn)


@pytest.fixture
def pg_schema(pg_dsn: str) -> str:
    """A schema name unique to one test inside the run's database."""
    return f"s_{uuid.uuid4().hex[:10]}"
