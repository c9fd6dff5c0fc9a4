"""One stack for the whole inference test run: a broker, a registry process and the service (one engine).

The stack has a broker of its own (not the shared `kafka_bootstrap`) because the broker-outage
test stops and restarts it; other test directories must not see that outage.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from adaptloop_contracts import TopicNames
from adaptloop_devstack.broker import BrokerProcess, free_port, start_broker
from adaptloop_devstack.paths import repo_root
from adaptloop_devstack.postgres import sqlalchemy_url
from adaptloop_devstack.tcp_proxy import TcpProxy
from adaptloop_kafka import ensure_topics
from inference_stack import (
    ADMIN_TOKEN,
    TRAINER_TOKEN,
    InferenceService,
    LoraFactory,
    Registry,
    digest,
    spawn,
    wait_until,
)

BASE_MODEL = "tiny-llama"


GLOBAL_TIMEOUT_S = 900
"""pytest's `--timeout` (pyproject.toml): what a test's own steps may take."""
REGISTRY_READY_S, INFERENCE_READY_S = 120, 600
SESSION_FIXTURE_WAITS_S = {"registry": REGISTRY_READY_S, "inference": INFERENCE_READY_S}
"""The session fixtures' waits: whichever test comes first pays for them on top of its own steps."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that may start the shared registry and engine declares the global timeout plus their waits."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        waits = [s for name, s in SESSION_FIXTURE_WAITS_S.items() if name in fixtures]
        if waits and item.get_closest_marker("timeout") is None and "integration/inference" in item.nodeid:
            item.add_marker(pytest.mark.timeout(GLOBAL_TIMEOUT_S + sum(waits)))


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    from adaptloop_scenarios.tiny_model import ensure_tiny_model

    return ensure_tiny_model(repo_root() / "var" / "models" / BASE_MODEL)


@pytest.fixture(scope="session")
def stack_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = start_broker(free_port(), log_path=tmp_path_factory.mktemp("stack-broker") / "broker.log")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def stack_topics(stack_broker: BrokerProcess) -> TopicNames:
    names = TopicNames(f"inf{uuid.uuid4().hex[:6]}.")
    ensure_topics(stack_broker.bootstrap, names.all_with_partitions())
    return names


@pytest.fixture(scope="session")
def registry_db(pg_dsn: str) -> Iterator[TcpProxy]:
    """The registry reaches PostgreSQL through this proxy, so a test can take the database away."""
    proxy = TcpProxy.for_dsn(pg_dsn).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="session")
def registry(
    pg_dsn: str, registry_db: TcpProxy, stack_broker: BrokerProcess, stack_topics: TopicNames, tiny_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Registry]:
    work = tmp_path_factory.mktemp("registry")
    port = free_port()
    env = {
        "ADAPTLOOP_REGISTRY_PORT": str(port),
        "ADAPTLOOP_REGISTRY_DATABASE_URL": sqlalchemy_url(registry_db.dsn(pg_dsn)),
        "ADAPTLOOP_REGISTRY_DB_SCHEMA": f"reg_{uuid.uuid4().hex[:8]}",
        "ADAPTLOOP_REGISTRY_KAFKA_BOOTSTRAP": stack_broker.bootstrap,
        "ADAPTLOOP_REGISTRY_TOPIC_PREFIX": stack_topics.prefix,
        "ADAPTLOOP_REGISTRY_TOKENS": f"tests:admin:{digest(ADMIN_TOKEN)},trainer:trainer:{digest(TRAINER_TOKEN)}",
        "ADAPTLOOP_REGISTRY_ARTIFACT_DIR": str(work / "artifacts"),
        "OTEL_SDK_DISABLED": "true",
    }
    process = spawn("adaptloop_registry", "stream", env, work / "registry.log")
    service = Registry(f"http://127.0.0.1:{port}", process, work / "artifacts", work / "registry.log")
    try:
        wait_until(lambda: process.poll() is None and httpx.get(f"{service.url}/readyz", timeout=2).status_code == 200,
                   timeout_s=REGISTRY_READY_S, what=f"registry ready (log {work / 'registry.log'})")
        service.register_base_model(BASE_MODEL, tiny_model)
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def loras(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> LoraFactory:
    return LoraFactory(tiny_model, tmp_path_factory.mktemp("loras"))


@pytest.fixture(scope="session")
def inference(
    registry: Registry, stack_broker: BrokerProcess, stack_topics: TopicNames, tiny_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[InferenceService]:
    work = tmp_path_factory.mktemp("inference")
    env = {
        "ADAPTLOOP_INFERENCE_PORT": str(free_port()),
        "ADAPTLOOP_INFERENCE_REPLICA_ID": "test-replica",
        "ADAPTLOOP_INFERENCE_REGISTRY_URL": registry.url,
        "ADAPTLOOP_INFERENCE_REGISTRY_TOKEN": TRAINER_TOKEN,
        "ADAPTLOOP_INFERENCE_MODELS_DIR": str(tiny_model.parent),
        "ADAPTLOOP_INFERENCE_BASE_MODEL": tiny_model.name,
        "ADAPTLOOP_INFERENCE_ADAPTER_CACHE_DIR": str(work / "adapters"),
        "ADAPTLOOP_INFERENCE_KAFKA_BOOTSTRAP": stack_broker.bootstrap,
        "ADAPTLOOP_INFERENCE_TOPIC_PREFIX": stack_topics.prefix,
        "ADAPTLOOP_INFERENCE_MAX_LORAS": "4",
        "ADAPTLOOP_INFERENCE_MAX_LORA_RANK": "16",
        "ADAPTLOOP_INFERENCE_MAX_CPU_LORAS": "8",
        "ADAPTLOOP_INFERENCE_MAX_MODEL_LEN": "256",
        "ADAPTLOOP_INFERENCE_MAX_NUM_SEQS": "16",
        "ADAPTLOOP_INFERENCE_RECONCILE_INTERVAL_S": "5",
        "ADAPTLOOP_INFERENCE_SERVING_REPORT_INTERVAL_S": "1",
        "ADAPTLOOP_INFERENCE_LOG_DELIVERY_TIMEOUT_MS": "5000",
        "ADAPTLOOP_INFERENCE_TOOL_CALL_PARSER": "hermes",  # loaded at start; the tiny model's template lacks tools
        "ADAPTLOOP_SPAN_FILE": str(work / "spans.jsonl"),
        "VLLM_CPU_KVCACHE_SPACE": "1",
    }
    service = InferenceService(int(env["ADAPTLOOP_INFERENCE_PORT"]), env, work / "inference.log")
    service.start()
    try:
        service.wait_ready(timeout_s=INFERENCE_READY_S)
        yield service
    finally:
        service.stop()


@pytest.fixture
def adapter_name(registry: Registry) -> str:
    """A fresh adapter registered on the tiny base model, unique to the test."""
    name = f"a{uuid.uuid4().hex[:10]}"
    registry.create_adapter(name, BASE_MODEL)
    return name
