"""Inference answers bad input and unknown callers at the door, in OpenAI's error format, and logs nothing
for them: a lone surrogate is a 400, a 3 MB body a 413 (not a reset connection), bad input on every route a
4xx; with API keys on, every mutating route refuses no key and an unknown key. The `inference.logs` topic is
read before and after: a refused or bad request writes no log.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from adaptloop_contracts import TopicNames
from adaptloop_devstack.broker import BrokerProcess, free_port
from adaptloop_devstack.route_matrix import (
    Call,
    bearer,
    mutating_operations,
    refused_callers,
    sweep_bad_input,
    topic_ends,
)
from inference_stack import InferenceService, digest

API_KEY = "inference-door-test-key"
MAX_BODY = 1_048_576


def _logs(broker: BrokerProcess, topics: TopicNames) -> int:
    return topic_ends(broker.bootstrap, [topics("inference.logs")])[topics("inference.logs")]


def _logged_until(broker: BrokerProcess, topics: TopicNames, at_least: int, timeout_s: float = 30.0) -> int:
    deadline = time.monotonic() + timeout_s
    while (count := _logs(broker, topics)) < at_least:
        assert time.monotonic() < deadline, f"{count} logs, expected {at_least}"
        time.sleep(0.1)
    return count


def _completion(base_model: str) -> dict[str, object]:
    return {"model": base_model, "prompt": "hello", "max_tokens": 2, "temperature": 0}


def test_a_lone_surrogate_is_a_400_and_3_mb_a_413_in_openai_format(
    inference: InferenceService, stack_broker: BrokerProcess, stack_topics: TopicNames,
) -> None:
    before = _logs(stack_broker, stack_topics)
    model = inference.env["ADAPTLOOP_INFERENCE_BASE_MODEL"]
    prompt = b'"control \\u0007\\u001b[2J\\u0000 and a lone \\ud800 surrogate"'
    with httpx.Client(base_url=inference.url, timeout=60) as client:
        bad = client.post("/v1/completions", content=b'{"model": "%s", "max_tokens": 2, "prompt": %s}' % (
            model.encode(), prompt), headers={"content-type": "application/json"})
        assert bad.status_code == 400, bad.text
        assert "lone UTF-16 surrogate" in bad.json()["error"]["message"]
        assert bad.json()["error"]["type"] == "invalid_request_error"
        huge = client.post("/v1/completions", json={"model": "x", "prompt": "x" * (3 * MAX_BODY)})
        assert huge.status_code == 413, huge.text
        assert huge.json()["error"]["type"] == "invalid_request_error" and huge.json()["error"]["code"]
        assert str(MAX_BODY) in huge.json()["error"]["message"]
    assert _logs(stack_broker, stack_topics) == before


def test_bad_input_on_every_route_is_a_4xx_and_logs_nothing(
    inference: InferenceService, stack_broker: BrokerProcess, stack_topics: TopicNames,
) -> None:
    before = _logs(stack_broker, stack_topics)
    with httpx.Client(base_url=inference.url, timeout=60) as client:
        openapi = client.get("/openapi.json").json()
        sent, failures = sweep_bad_input(client, openapi, {}, max_body=MAX_BODY)
    assert sent > 0 and not failures, "\n".join(failures)
    assert _logs(stack_broker, stack_topics) == before


@pytest.fixture(scope="module")
def keyed(inference: InferenceService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceService]:
    """A second replica of the same stack with client API keys switched on."""
    work: Path = tmp_path_factory.mktemp("keyed")
    port = free_port()
    env = {**inference.env, "ADAPTLOOP_INFERENCE_PORT": str(port), "ADAPTLOOP_INFERENCE_REPLICA_ID": "keyed",
           "ADAPTLOOP_INFERENCE_API_KEYS": digest(API_KEY), "ADAPTLOOP_INFERENCE_SERVING_REPORT_INTERVAL_S": "0",
           "ADAPTLOOP_INFERENCE_ADAPTER_CACHE_DIR": str(work / "adapters"),
           "ADAPTLOOP_SPAN_FILE": str(work / "spans.jsonl")}
    service = dataclasses.replace(inference, port=port, env=env, log_path=work / "inference.log", process=None)
    service.start()
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def test_with_api_keys_every_mutating_route_refuses_no_key_and_an_unknown_one(
    keyed: InferenceService, stack_broker: BrokerProcess, stack_topics: TopicNames,
) -> None:
    base_model = keyed.env["ADAPTLOOP_INFERENCE_BASE_MODEL"]
    bodies = {
        ("POST", "/v1/completions"): _completion(base_model),
        ("POST", "/v1/chat/completions"): {"model": base_model, "messages": [{"role": "user", "content": "hi"}],
                                           "max_tokens": 2, "temperature": 0},
    }
    with httpx.Client(base_url=keyed.url, timeout=120) as client:
        assert mutating_operations(client.get("/openapi.json").json()) == set(bodies)
        for (method, path), body in sorted(bodies.items()):
            before = _logs(stack_broker, stack_topics)
            call = Call(method, path, json=body)
            # Keys carry no role: a key is the lowest role there is, so the refused callers are the two without one.
            for who, headers, status in refused_callers({"reader": API_KEY}, "reader"):
                answer = call.send(client, headers)
                assert answer.status_code == status, f"{path} {who}: {answer.status_code} {answer.text}"
                assert answer.json()["error"]["code"] == "invalid_api_key"
            allowed = call.send(client, bearer(API_KEY))
            assert allowed.status_code == 200, allowed.text
            # Logs leave in request order: once the allowed request's log is on the topic, a refused one would be too.
            assert _logged_until(stack_broker, stack_topics, before + 1) == before + 1, f"{path}: a refused call logged"
