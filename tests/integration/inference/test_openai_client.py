"""The official `openai` client works against the service unmodified."""

from __future__ import annotations

import httpx
import openai
import pytest
from inference_stack import PROMPTS, InferenceService, LoraFactory, Registry, wait_until


@pytest.fixture
def client(inference: InferenceService) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{inference.url}/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture
def promoted(inference: InferenceService, registry: Registry, loras: LoraFactory, adapter_name: str) -> str:
    version = registry.register_version(adapter_name, loras.adapter(201))
    registry.move_alias(adapter_name, "production", version)
    wait_until(lambda: inference.state()["routes"].get(adapter_name, {}).get("production", {}).get("version")
               == version, timeout_s=15, what="production routed")
    return adapter_name


def test_completions_chat_streaming_and_models(client: openai.OpenAI, promoted: str) -> None:
    raw = client.completions.with_raw_response.create(model=promoted, prompt=PROMPTS[3], max_tokens=12,
                                                      temperature=0)
    assert raw.headers["x-adaptloop-adapter-version"] == "1"
    completion = raw.parse()
    assert completion.choices[0].text and completion.usage and completion.usage.completion_tokens > 0

    messages = [{"role": "user", "content": "How do I check the brake pads?"}]
    chat = client.chat.completions.create(model=promoted, messages=messages, max_tokens=12,  # type: ignore[arg-type]
                                          temperature=0)
    answer = chat.choices[0].message.content
    assert answer and chat.choices[0].message.role == "assistant"

    with client.chat.completions.with_streaming_response.create(
        model=promoted, messages=messages, max_tokens=12, temperature=0, stream=True,  # type: ignore[arg-type]
    ) as response:
        assert response.headers["x-adaptloop-adapter-version"] == "1"
        assert response.headers["content-type"].startswith("text/event-stream")
        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in response.parse() if chunk.choices)
    assert streamed == answer

    pieces = client.completions.create(model=promoted, prompt=PROMPTS[3], max_tokens=12, temperature=0, stream=True)
    assert "".join(p.choices[0].text for p in pieces) == completion.choices[0].text

    ids = {m.id for m in client.models.list()}
    assert {"tiny-llama", promoted, f"{promoted}:production", f"{promoted}@1"} <= ids


def test_unknown_model_is_a_404_in_openai_format(client: openai.OpenAI, inference: InferenceService) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.completions.create(model="no-such-adapter", prompt="hello", max_tokens=4)
    assert caught.value.status_code == 404
    body = httpx.post(f"{inference.url}/v1/chat/completions", json={
        "model": "no-such-adapter:canary", "messages": [{"role": "user", "content": "hi"}]}).json()
    assert body["error"]["code"] == "model_not_found" and body["error"]["type"] == "invalid_request_error"


def test_invalid_request_is_a_400_with_the_version_header(inference: InferenceService) -> None:
    response = httpx.post(f"{inference.url}/v1/completions", json={"model": "tiny-llama", "prompt": "x",
                                                                    "max_tokens": 100_000})
    assert response.status_code == 400
    assert response.headers["x-adaptloop-adapter-version"] == "none"
    assert "maximum context length" in response.json()["error"]["message"]
