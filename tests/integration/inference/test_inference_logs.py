"""Every finished request becomes an `inference.logs` event; a broker outage never fails a request."""

from __future__ import annotations

import uuid

import httpx
from adaptloop_contracts import InferenceLog, TopicNames
from adaptloop_devstack.broker import BrokerProcess, start_broker
from adaptloop_devstack.topic_dump import read_every_topic
from adaptloop_kafka import ensure_topics
from adaptloop_scenarios.personal_data import leaks, unique_sentence
from inference_stack import PROMPTS, InferenceService, LoraFactory, Registry, complete, read_logs, wait_until


def test_each_request_is_logged_with_version_logprob_and_trace(
    inference: InferenceService, registry: Registry, loras: LoraFactory, adapter_name: str,
    stack_broker: BrokerProcess, stack_topics: TopicNames,
) -> None:
    version = registry.register_version(adapter_name, loras.adapter(501))
    registry.move_alias(adapter_name, "production", version)
    wait_until(lambda: complete(inference.url, adapter_name, PROMPTS[0])[1] == str(version), timeout_s=15,
               what="promotion")
    traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    response = httpx.post(f"{inference.url}/v1/chat/completions", headers={"traceparent": traceparent}, json={
        "model": f"{adapter_name}:production", "messages": [{"role": "user", "content": "Brakes squeal."}],
        "max_tokens": 8, "temperature": 0, "user": "tenant-user-1"}, timeout=60)
    assert response.status_code == 200
    logs = read_logs(stack_broker.bootstrap, stack_topics, adapter_name, count=10, timeout_s=20)
    chat = [(e, h) for e, h in logs if e.model == f"{adapter_name}:production"]
    assert len(chat) == 1
    event, headers = chat[0]
    assert event.adapter_version == version and event.base_model == "tiny-llama"
    assert event.prompt.startswith("<s><|user|>\nBrakes squeal.")
    assert event.completion == response.json()["choices"][0]["message"]["content"]
    assert event.completion_tokens == response.json()["usage"]["completion_tokens"]
    assert str(event.event_id) == response.headers["x-adaptloop-event-id"]
    assert event.mean_logprob is not None and event.mean_logprob <= 0
    assert headers["traceparent"].decode().split("-")[1] == traceparent.split("-")[1]


def test_logs_reach_the_broker_redacted(
    inference: InferenceService, stack_broker: BrokerProcess, stack_topics: TopicNames,
) -> None:
    """Requests full of personal data (to the base model): the logs carry placeholders, no topic a raw value."""
    delivered_before = inference.state()["logs"]["delivered"]
    sentence = unique_sentence()
    for path, body in (("/v1/completions", {"prompt": sentence}),
                       ("/v1/chat/completions", {"messages": [{"role": "user", "content": sentence}]})):
        response = httpx.post(f"{inference.url}{path}", json={"model": "tiny-llama", "max_tokens": 4, **body},
                              timeout=60)
        assert response.status_code == 200, response.text
    wait_until(lambda: inference.state()["logs"]["delivered"] >= delivered_before + 2, timeout_s=30,
               what="both logs delivered")

    blobs = read_every_topic(stack_broker.bootstrap, stack_topics)
    logs = [InferenceLog.from_json_bytes(b) for b in blobs if sentence[-9:].encode() in b]
    assert len(logs) == 2
    assert all(tag in e.prompt for e in logs for tag in ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[SECRET]"))
    assert leaks(blobs) == []


def test_broker_outage_never_fails_a_request(
    inference: InferenceService, registry: Registry, loras: LoraFactory, adapter_name: str,
    stack_broker: BrokerProcess, stack_topics: TopicNames,
) -> None:
    version = registry.register_version(adapter_name, loras.adapter(502))
    registry.move_alias(adapter_name, "production", version)
    wait_until(lambda: complete(inference.url, adapter_name, PROMPTS[0])[1] == str(version), timeout_s=15,
               what="promotion")
    counts_before = inference.state()["logs"]
    port = int(stack_broker.bootstrap.rsplit(":", 1)[1])
    stack_broker.stop()
    try:
        for i in range(20):
            _text, header = complete(inference.url, adapter_name, PROMPTS[i % len(PROMPTS)])
            assert header == str(version)
        # Nothing is silently lost: every log is delivered later or counted as dropped (5 s delivery timeout).
        wait_until(lambda: inference.state()["logs"]["dropped"] - counts_before["dropped"] >= 20, timeout_s=30,
                   what="undeliverable logs counted as dropped")
        assert inference.metric("adaptloop_inference_logs_dropped_total") >= 20
    finally:
        restarted = start_broker(port, log_path=stack_broker.log_path)
        stack_broker.process = restarted.process
        ensure_topics(stack_broker.bootstrap, stack_topics.all_with_partitions())
    delivered_before = inference.state()["logs"]["delivered"]
    complete(inference.url, adapter_name, PROMPTS[0])
    wait_until(lambda: inference.state()["logs"]["delivered"] > delivered_before, timeout_s=60,
               what="logs delivered again after the broker came back")
    # The replica still follows promotions (events or the periodic sync) after the outage.
    newer = registry.register_version(adapter_name, loras.adapter(503))
    registry.move_alias(adapter_name, "production", newer)
    wait_until(lambda: complete(inference.url, adapter_name, PROMPTS[0])[1] == str(newer), timeout_s=30,
               what="promotion after the outage")
