"""What ingest promises with a 202: acknowledged events survive a kill; a full queue answers 503."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest
from adaptloop_contracts import TopicNames
from adaptloop_devstack.broker import free_port
from adaptloop_devstack.postgres import sqlalchemy_url
from ingest_support import TOKENS, WRITER, RunningIngest, log_payload, read_topic, wait_for


@pytest.fixture
def ingest_process(kafka_bootstrap: str, topics: TopicNames, pg_dsn: str, pg_schema: str) -> Iterator[
        tuple[subprocess.Popen[bytes], str]]:
    """`python -m adaptloop_ingest` as its own process, as it runs in production."""
    port = free_port()
    env = {
        **os.environ,
        "ADAPTLOOP_INGEST_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ADAPTLOOP_INGEST_TOPIC_PREFIX": topics.prefix,
        "ADAPTLOOP_INGEST_DATABASE_URL": sqlalchemy_url(pg_dsn),
        "ADAPTLOOP_INGEST_DB_SCHEMA": pg_schema,
        "ADAPTLOOP_INGEST_TOKENS": TOKENS,
        "ADAPTLOOP_INGEST_PORT": str(port),
        "ADAPTLOOP_INGEST_CONSUMER_GROUP": f"ingest-examples-{pg_schema}",
        "ADAPTLOOP_INGEST_PRODUCER_CONFIG": json.dumps({"linger.ms": 50}),
        "OTEL_SDK_DISABLED": "true",
    }
    process = subprocess.Popen([sys.executable, "-m", "adaptloop_ingest"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"ingest exited at start: {process.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, timeout_s=60, what="ingest process ready")
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def test_nothing_accepted_is_lost_when_ingest_is_killed_right_after_202(
    ingest_process: tuple[subprocess.Popen[bytes], str], topics: TopicNames, kafka_bootstrap: str
) -> None:
    process, url = ingest_process
    accepted: list[str] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(5):
            response = client.post("/v1/logs", json=[log_payload() for _ in range(100)], headers=WRITER)
            assert response.status_code == 202, response.text
            accepted += response.json()["event_ids"]
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)

    messages = read_topic(kafka_bootstrap, topics("inference.logs"), expect=len(accepted))
    assert sorted(json.loads(m.value())["event_id"] for m in messages) == sorted(accepted)


def test_sigterm_stops_ingest_cleanly(ingest_process: tuple[subprocess.Popen[bytes], str]) -> None:
    process, _ = ingest_process
    process.send_signal(signal.SIGTERM)
    # uvicorn drains, runs the lifespan shutdown (flush, close), then re-raises the signal it caught
    assert process.wait(30) in (0, -signal.SIGTERM)
    log = process.stderr.read().decode()  # type: ignore[union-attr]
    assert "Application shutdown complete" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def test_full_producer_queue_answers_503_with_retry_after(ingest_factory) -> None:  # type: ignore[no-untyped-def]
    # linger.ms holds acknowledged-pending events in the queue long enough to fill it deterministically
    service: RunningIngest = ingest_factory(
        consumer_enabled=False, producer_queue_max_messages=3, retry_after_s=2,
        producer_config={"linger.ms": 3000},
    )
    first: list[httpx.Response] = []
    holder = threading.Thread(target=lambda: first.append(
        service.client.post("/v1/logs", json=[log_payload() for _ in range(3)], headers=WRITER)))
    holder.start()

    def queue_full() -> bool:
        metrics = service.client.get("/metrics").text
        return "adaptloop_ingest_producer_in_flight 3.0" in metrics

    wait_for(queue_full, timeout_s=10, interval_s=0.02, what="three events in flight")
    refused = service.client.post("/v1/logs", json=log_payload(), headers=WRITER)
    holder.join(30)

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "2"
    assert first[0].status_code == 202
    assert service.client.post("/v1/logs", json=log_payload(), headers=WRITER).status_code == 202
