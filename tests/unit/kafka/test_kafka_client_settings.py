"""The shared Kafka client settings (`ADAPTLOOP_KAFKA_*`) reach every client: producers, consumers,
admin clients and the drift service's faust app, in every service that runs in this environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import certifi
import pytest
from adaptloop_contracts import TopicNames
from adaptloop_dashboard.config import Settings as DashboardSettings
from adaptloop_drift.bootstrap import build_runtime
from adaptloop_drift.config import Settings as DriftSettings
from adaptloop_drift.infra.signal_processes import build_signal_consumer
from adaptloop_ingest.config import Settings as IngestSettings
from adaptloop_kafka import EventConsumer, EventProducer, KafkaClientSettings, new_admin, new_consumer
from adaptloop_registry.config import Settings as RegistrySettings
from confluent_kafka import Consumer, KafkaException, Producer
from faust.auth import SASLCredentials

NOWHERE = "127.0.0.1:1"
SASL_SSL = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "adaptloop",
    "sasl.password": "s3cret-pass",
    "ssl.ca.location": certifi.where(),
    "client.rack": "rack-7",
}


Client = TypeVar("Client", Producer, Consumer)


@pytest.fixture
def closing() -> Iterator[Callable[[Client], Client]]:
    """Closes every client the test hands it when the test ends, passed or failed: a client left open
    keeps retrying NOWHERE in the log of the tests after it (a producer's queue is purged first, since
    nothing can reach NOWHERE and closing would otherwise wait out the delivery timeout)."""
    clients: list[Producer | Consumer] = []

    def register(client: Client) -> Client:
        clients.append(client)
        return client

    yield register
    for client in reversed(clients):
        if isinstance(client, Producer):
            client.purge()
        client.close()


@pytest.fixture
def sasl_ssl(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "SCRAM-SHA-512", "SASL_USERNAME": "adaptloop",
        "SASL_PASSWORD": "s3cret-pass", "SSL_CA_LOCATION": certifi.where(),
        "CLIENT_CONFIG": '{"client.rack": "rack-7"}',
    }.items():
        monkeypatch.setenv(f"ADAPTLOOP_KAFKA_{name}", value)


def _has_all(config: dict[str, object]) -> bool:
    return all(config.get(k) == v for k, v in SASL_SSL.items())


@pytest.mark.usefixtures("sasl_ssl")
def test_every_service_reads_the_same_settings_and_builds_its_clients_from_them(
        tmp_path: Path, closing: Callable[[Client], Client]) -> None:
    for settings_class in (IngestSettings, RegistrySettings, DriftSettings, DashboardSettings):
        assert _has_all(settings_class(kafka_bootstrap=NOWHERE).kafka.client_config()), settings_class

    ingest = IngestSettings(kafka_bootstrap=NOWHERE)
    producer = EventProducer(ingest.kafka, config={"linger.ms": 20})
    closing(producer.raw)
    consumer = EventConsumer(ingest.kafka, group_id="g", topic_bases=["inference.logs"], producer=producer)
    closing(consumer._consumer)
    assert _has_all(producer.client_config) and producer.client_config["linger.ms"] == 20
    assert _has_all(consumer.client_config) and consumer.client_config["group.id"] == "g"

    drift = build_runtime(DriftSettings(kafka_bootstrap=NOWHERE, data_dir=tmp_path))
    closing(drift.producer.raw)
    assert _has_all(drift.producer.client_config)
    signals, _ = build_signal_consumer(drift.settings, drift.producer)  # what each signal process builds
    assert _has_all(signals._conf)
    credentials = drift.policy.app.conf.broker_credentials
    assert isinstance(credentials, SASLCredentials)
    assert (credentials.username, credentials.password) == ("adaptloop", "s3cret-pass")
    assert credentials.mechanism.value == "SCRAM-SHA-512" and credentials.ssl_context is not None


def test_a_tls_file_reaches_librdkafka_in_every_kind_of_client(monkeypatch: pytest.MonkeyPatch,
                                                               closing: Callable[[Client], Client]) -> None:
    """librdkafka loads the CA file when a client is created: a missing one fails each of them at once."""
    monkeypatch.setenv("ADAPTLOOP_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("ADAPTLOOP_KAFKA_SSL_CA_LOCATION", "/nonexistent/ca.pem")
    producer_for_dlq = EventProducer(NOWHERE, config={"security.protocol": "PLAINTEXT"})
    closing(producer_for_dlq.raw)
    builders = {
        "admin": lambda: new_admin(NOWHERE),
        "consumer": lambda: new_consumer(NOWHERE, {"group.id": "g"}),
        "event producer": lambda: EventProducer(IngestSettings(kafka_bootstrap=NOWHERE).kafka),
        "event consumer": lambda: EventConsumer(NOWHERE, group_id="g", topic_bases=[], producer=producer_for_dlq,
                                                topics=TopicNames()),
    }
    for kind, build in builders.items():
        with pytest.raises(KafkaException, match=r"ssl\.ca\.location"):
            build()
            pytest.fail(f"the {kind} ignored ssl.ca.location")


def test_inconsistent_settings_fail_at_start() -> None:
    with pytest.raises(ValueError, match="SASL_MECHANISM"):
        KafkaClientSettings(security_protocol="SASL_PLAINTEXT")
    with pytest.raises(ValueError, match="SASL settings given"):
        KafkaClientSettings(sasl_username="u")
    with pytest.raises(ValueError, match="go together"):
        KafkaClientSettings(security_protocol="SSL", ssl_certificate_location="/c.pem")
    assert "sasl.password" not in repr(KafkaClientSettings(security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                                                           sasl_username="u", sasl_password="hidden"))


def test_no_product_code_configures_a_kafka_client_by_hand() -> None:
    """Every client goes through `KafkaConnection`: a hand-written `bootstrap.servers` would skip the settings."""
    root = Path(__file__).resolve().parents[3]
    sources = [*root.glob("services/*/src/**/*.py"), *root.glob("bench/**/*.py"),
               *(p for p in root.glob("libs/*/src/**/*.py") if "adaptloop_kafka" not in p.parts)]
    test_support = {"pytest_plugin.py", "topic_reader.py", "route_matrix.py"}
    by_hand = [str(p.relative_to(root)) for p in sources
               if p.name not in test_support and '"bootstrap.servers"' in p.read_text()]
    assert sources and by_hand == []
