"""The trainer's dataset export goes through the shared privacy policy before a snapshot holds it,
and its Kafka consumer is built from the shared connection settings."""

from __future__ import annotations

import pytest
from adaptloop_common.privacy import PrivacyMode, PrivacyPolicy, PrivacySettings
from adaptloop_contracts import TopicNames
from adaptloop_kafka import EventProducer
from adaptloop_scenarios.personal_data import SENTENCE, leaks
from adaptloop_trainer.config import Settings
from adaptloop_trainer.dataset_privacy import RedactedExamples
from adaptloop_trainer.infra.kafka import RetrainRequestConsumer
from adaptloop_trainer.snapshot import snapshot_from_export
from confluent_kafka import KafkaException
from trainer_fakes import FakeExamples

ROWS = {
    "support": [{"prompt": SENTENCE, "target": f"Noted: {SENTENCE}", "example_id": "e1"}],
    "legal": [{"prompt": SENTENCE, "target": "Sure.", "example_id": "e2"}],
}


def test_snapshots_hold_redacted_text_and_nothing_of_an_adapter_in_drop_mode() -> None:
    policy = PrivacyPolicy(PrivacySettings(adapter_modes={"legal": PrivacyMode.DROP}))
    examples = RedactedExamples(FakeExamples(ROWS), policy)

    [example] = snapshot_from_export(examples.export("support", since=None, until=None)).examples
    assert example.prompt.startswith("I am [EMAIL], call [PHONE]; my card [CARD]")
    assert leaks([example.prompt.encode(), example.answer.encode()]) == []
    assert snapshot_from_export(examples.export("legal", since=None, until=None)).examples == ()


def test_the_retrain_consumer_takes_the_shared_kafka_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTLOOP_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("ADAPTLOOP_KAFKA_SSL_CA_LOCATION", "/nonexistent/ca.pem")
    settings = Settings(kafka_bootstrap="127.0.0.1:1", database_url="postgresql://x", registry_token="t",
                        ingest_token="t")
    dlq = EventProducer("127.0.0.1:1", config={"security.protocol": "PLAINTEXT"})
    try:
        assert settings.kafka.options["ssl.ca.location"] == "/nonexistent/ca.pem"
        with pytest.raises(KafkaException, match=r"ssl\.ca\.location"):
            RetrainRequestConsumer(settings.kafka, group_id="g", topics=TopicNames(), producer=dlq,
                                   accept=lambda *_: pytest.fail("no request"), job_is_final=lambda _: True)
    finally:  # a producer left open keeps retrying the address in the log of later tests
        dlq.raw.purge()
        dlq.raw.close()
