"""What applications use beyond plain chat, through the official `openai` client, on the base model and on an
adapter version: JSON mode, JSON schemas, log-probabilities, several choices, tool calls, streaming, refusals."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from adaptloop_contracts import TopicNames, tool_calls_text
from adaptloop_devstack.broker import BrokerProcess
from inference_stack import (
    PROMPTS,
    PROMPTS_20,
    TICKET,
    TOOLS,
    InferenceService,
    LoraFactory,
    Registry,
    read_logs,
    wait_until,
)

BASE_MODEL = "tiny-llama"
@pytest.fixture(scope="module")
def client(inference: InferenceService) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{inference.url}/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def adapter(inference: InferenceService, registry: Registry, loras: LoraFactory) -> str:
    """An adapter with version 1 in production (a real peft LoRA)."""
    name = f"f{uuid.uuid4().hex[:10]}"
    registry.create_adapter(name, BASE_MODEL)
    version = registry.register_version(name, loras.adapter(301))
    registry.move_alias(name, "production", version)
    wait_until(lambda: inference.state()["routes"].get(name, {}).get("production", {}).get("version") == version,
               timeout_s=15, what="production routed")
    return name


@pytest.fixture(scope="module", params=["base", "adapter"])
def model(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(model name, the version header it is served with)."""
    if request.param == "base":
        yield BASE_MODEL, "base"
    else:
        yield request.getfixturevalue("adapter"), "1"


def _user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def test_json_mode_answers_parse(client: openai.OpenAI, model: tuple[str, str], tiny_model: Path) -> None:
    """The tiny model never closes a free JSON string by itself (it fills max_tokens); a logit_bias on `"` and
    `}` (honoured like every sampling field) lets it end, and guided decoding keeps the answer JSON."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    bias = {str(tokenizer.encode(c, add_special_tokens=False)[0]): 10 for c in ('"', "}")}
    name, header = model
    raw = client.chat.completions.with_raw_response.create(
        model=name, messages=_user("Describe the brake pads as JSON."), response_format={"type": "json_object"},
        logit_bias=bias, max_tokens=60, temperature=0)
    assert raw.headers["x-adaptloop-adapter-version"] == header
    answer = raw.parse().choices[0]
    assert answer.finish_reason == "stop", answer.message.content
    assert isinstance(json.loads(answer.message.content or ""), dict)
    completion = client.completions.create(model=name, prompt=PROMPTS[3], logit_bias=bias, max_tokens=60,  # type: ignore[arg-type]
                                           temperature=0, extra_body={"response_format": {"type": "json_object"}})
    assert completion.choices[0].finish_reason == "stop", completion.choices[0].text
    assert isinstance(json.loads(completion.choices[0].text), dict)


def test_json_schema_answers_validate_over_20_prompts(client: openai.OpenAI, model: tuple[str, str]) -> None:
    name, _ = model
    response_format: Any = {"type": "json_schema", "json_schema": {"name": "ticket", "schema": TICKET,
                                                                   "strict": True}}

    def ask(prompt: str) -> str:
        answer = client.chat.completions.create(model=name, messages=_user(prompt), response_format=response_format,
                                                max_tokens=80, temperature=0.7, seed=len(prompt))
        assert answer.choices[0].finish_reason == "stop", answer.choices[0].message.content
        return answer.choices[0].message.content or ""

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, PROMPTS_20))
    for answer in answers:
        jsonschema.validate(json.loads(answer), TICKET)
    assert len(set(answers)) > 1, "different prompts, different answers"


def test_logprobs_are_the_engines_with_the_right_count(
    client: openai.OpenAI, model: tuple[str, str], tiny_model: Path, loras: LoraFactory,
) -> None:
    name, _ = model
    chat = client.chat.completions.create(model=name, messages=_user("How do I check the brake pads?"),
                                          max_tokens=8, temperature=0, logprobs=True, top_logprobs=2)
    choice = chat.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None and chat.usage is not None
    content = choice.logprobs.content
    assert len(content) == chat.usage.completion_tokens
    for token in content:  # greedy: the sampled token is the best of its alternatives
        assert len(token.top_logprobs) == 2
        assert token.top_logprobs[0].logprob >= token.top_logprobs[1].logprob
        assert (token.token, token.logprob) == (token.top_logprobs[0].token, token.top_logprobs[0].logprob)
        assert token.logprob <= 0 and token.bytes == list(token.token.encode())

    completion = client.completions.create(model=name, prompt=PROMPTS[0], max_tokens=6, temperature=0, logprobs=3)
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and completion.usage is not None
    assert logprobs.tokens and len(logprobs.tokens) == len(logprobs.token_logprobs or []) \
        == len(logprobs.top_logprobs or []) == completion.usage.completion_tokens
    reference = _reference_logprobs(tiny_model, loras if name != BASE_MODEL else None, PROMPTS[0], steps=6)
    for step, (top, expected) in enumerate(zip(logprobs.top_logprobs or [], reference, strict=True)):
        assert len(top) <= 3
        assert max(top.values()) == pytest.approx(expected, abs=2e-3), f"step {step}"
        assert logprobs.token_logprobs[step] == pytest.approx(expected, abs=2e-3)  # type: ignore[index]


def _reference_logprobs(model_dir: Path, loras: LoraFactory | None, prompt: str, *, steps: int) -> list[float]:
    """The greedy token's log-probability per step, computed with transformers (and peft) on the same weights."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    hf: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if loras is not None:
        from peft import PeftModel

        hf = PeftModel.from_pretrained(hf, loras.adapter(301))
    hf.eval()
    ids = tokenizer(prompt, add_special_tokens=True, return_tensors="pt").input_ids
    out = []
    with torch.no_grad():
        for _ in range(steps):
            logprobs = torch.log_softmax(hf(ids).logits[0, -1].float(), dim=-1)
            best = int(torch.argmax(logprobs))
            out.append(float(logprobs[best]))
            ids = torch.cat([ids, torch.tensor([[best]])], dim=1)
    return out


def test_n_gives_that_many_choices(client: openai.OpenAI, model: tuple[str, str]) -> None:
    name, _ = model
    chat = client.chat.completions.create(model=name, messages=_user("Brakes squeal."), n=3, max_tokens=8,
                                          temperature=1.0, seed=7)
    assert [c.index for c in chat.choices] == [0, 1, 2]
    assert all(c.message.content for c in chat.choices)
    assert chat.usage is not None and chat.usage.completion_tokens <= 3 * 8
    completion = client.completions.create(model=name, prompt=PROMPTS[1], n=3, best_of=3, max_tokens=8,
                                           temperature=1.0, seed=7)
    assert sorted(c.index for c in completion.choices) == [0, 1, 2]

    streamed: dict[int, str] = {}
    for chunk in client.chat.completions.create(model=name, messages=_user("Brakes squeal."), n=3, max_tokens=8,
                                                temperature=1.0, seed=7, stream=True):
        for c in chunk.choices:
            streamed[c.index] = streamed.get(c.index, "") + (c.delta.content or "")
    assert sorted(streamed) == [0, 1, 2]


def test_required_tool_call_names_the_tool_with_valid_arguments(client: openai.OpenAI, model: tuple[str, str],
                                                                 stack_broker: BrokerProcess,
                                                                 stack_topics: TopicNames) -> None:
    name, _ = model
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
    raw = client.chat.completions.with_raw_response.create(
        model=name, messages=_user("I need new brake pads, quickly."), tools=TOOLS, tool_choice="required",
        parallel_tool_calls=False, max_tokens=100, temperature=0)
    choice = raw.parse().choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    for call in choice.message.tool_calls:
        assert call.type == "function" and call.id and call.function.name in schemas  # type: ignore[union-attr]
        jsonschema.validate(json.loads(call.function.arguments), schemas[call.function.name])  # type: ignore[union-attr]

    named = client.chat.completions.create(
        model=name, messages=_user("Open a ticket for the VPN."), tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "open_ticket"}}, max_tokens=100, temperature=0)
    [call] = named.choices[0].message.tool_calls or []
    assert call.function.name == "open_ticket"  # type: ignore[union-attr]
    jsonschema.validate(json.loads(call.function.arguments), TICKET)  # type: ignore[union-attr]

    # Streaming: the same call, as OpenAI chunks (one tool_calls delta, then finish_reason).
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in client.chat.completions.create(
            model=name, messages=_user("I need new brake pads, quickly."), tools=TOOLS, tool_choice="required",
            parallel_tool_calls=False, max_tokens=100, temperature=0, stream=True):
        for c in chunk.choices:
            for delta in c.delta.tool_calls or []:
                entry = calls.setdefault(delta.index, {"name": "", "arguments": ""})
                entry["name"] += (delta.function.name or "") if delta.function else ""
                entry["arguments"] += (delta.function.arguments or "") if delta.function else ""
            finish = c.finish_reason or finish
    assert finish == "tool_calls"
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        (t.function.name, json.loads(t.function.arguments)) for t in choice.message.tool_calls]  # type: ignore[union-attr]

    # The log records what was asked, and the completion is the calls' text form (what a correction gives).
    event_id = raw.headers["x-adaptloop-event-id"]
    key = name.split(":")[0]
    logs = read_logs(stack_broker.bootstrap, stack_topics, key, count=10_000, timeout_s=20,
                     until=lambda found: any(str(e.event_id) == event_id for e, _ in found))
    [event] = [e for e, _ in logs if str(e.event_id) == event_id]
    assert event.metadata["tools"] == ["lookup_part", "open_ticket"] and event.metadata["tool_choice"] == "required"
    assert event.completion == tool_calls_text([c.model_dump() for c in choice.message.tool_calls])


def test_refusals_name_the_field(client: openai.OpenAI, inference: InferenceService) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=BASE_MODEL, messages=_user("hi"), max_tokens=4,
                                       modalities=["text", "audio"])
    assert caught.value.status_code == 400 and "modalities" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=BASE_MODEL, prompt="hi", max_tokens=4, echo=True)
    assert "echo" in caught.value.message
    for choice in ("auto", None):  # auto is OpenAI's default with tools; the stack has a parser (hermes) configured
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=BASE_MODEL, messages=_user("hi"), tools=TOOLS, max_tokens=4,
                                           **({"tool_choice": choice} if choice else {}))  # type: ignore[call-overload]
        lacks = caught.value.message.split("lacks them:")[1]
        assert caught.value.status_code == 400 and caught.value.param == "tool_choice"
        assert "chat template does not render `tools`" in lacks and "parser" not in lacks.split(".")[0]
    answer = httpx.post(f"{inference.url}/v1/chat/completions", json={
        "model": BASE_MODEL, "messages": _user("hi"), "response_format": {
            "type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "no-such-type"}}}}, timeout=30)
    assert answer.status_code == 400 and "schema" in answer.json()["error"]["message"]
