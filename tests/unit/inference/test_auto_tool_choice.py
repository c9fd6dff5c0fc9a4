"""`tool_choice: auto`: which models can answer it (template renders `tools`, a vLLM tool-call parser is set), the
400 naming what a model lacks, and the answer read by vLLM's own parser into OpenAI `tool_calls`, streamed too.

The engine's generation is faked (the tiny model never writes a call of its own); the tokenizer, its chat
template, the `hermes` parser, the service's handler and the `openai` response types are the real ones."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from adaptloop_contracts.openai_requests import ChatBody
from adaptloop_inference.adapter_cache import AdapterCache
from adaptloop_inference.adapter_files import AdapterLimits
from adaptloop_inference.api import chat as chat_api
from adaptloop_inference.api.errors import install_error_handlers
from adaptloop_inference.api.options import sampling_options, structured_output, tool_calling, tool_message
from adaptloop_inference.errors import InvalidRequest
from adaptloop_inference.generation import GenerationService
from adaptloop_inference.infra.vllm_engine import VllmEngine, sampling_params
from adaptloop_inference.infra.vllm_tools import VllmToolCalls, template_renders_tools
from adaptloop_inference.plan import ServingPlan
from adaptloop_inference.ports import ToolSupport
from adaptloop_inference.swap_manager import SwapManager
from fastapi import FastAPI
from fastapi.testclient import TestClient
from inference_fakes import FakeEngine, FakeRegistry
from openai.types.chat import ChatCompletion, ChatCompletionChunk

PLAIN = ("{%- for message in messages -%}{{ '<|' + message['role'] + '|>' + message['content'] }}{%- endfor -%}"
         "{{ '<|assistant|>' }}")
SHOWS_TOOLS = ("{%- if tools %}{{ '<tools>' + (tools | tojson) + '</tools>' }}{% endif -%}" + PLAIN)
MENTIONS_TOOLS = "{# tools are listed elsewhere #}{{ 'no tools here' }}" + PLAIN
LOOKUP = {"type": "object", "properties": {"part": {"type": "string"}}, "required": ["part"]}
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": LOOKUP}},
         {"type": "function", "function": {"name": "ping"}}]
CALL = '<tool_call>{"name": "lookup", "arguments": {"part": "pad"}}</tool_call>'


def tokenizer(template: str | dict[str, str] | None) -> Any:
    """A small real tokenizer (transformers, in memory) with the given chat template."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = {"[UNK]": 0, "<tool_call>": 1, "</tool_call>": 2, "hi": 3}
    backend = Tokenizer(models.WordLevel(words, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    tok.chat_template = template
    return tok


def chat(**fields: Any) -> ChatBody:
    return ChatBody.model_validate({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields})


@pytest.mark.parametrize(("template", "renders"), [
    (SHOWS_TOOLS, True),
    ({"default": PLAIN, "tool_use": SHOWS_TOOLS}, True),  # the tokenizer's named template for requests with tools
    (PLAIN, False),
    (MENTIONS_TOOLS, False),  # the word in a comment or a string is not the variable
    (None, False),
])
def test_a_template_renders_tools_when_it_reads_the_tools_variable(template: Any, renders: bool) -> None:
    assert template_renders_tools(tokenizer(template)) is renders


def test_auto_is_a_400_naming_what_the_model_lacks() -> None:
    with pytest.raises(InvalidRequest) as caught:
        tool_calling(chat(tools=TOOLS), support=ToolSupport(), base_model="tiny")  # auto: the default with tools
    assert caught.value.param == "tool_choice"
    assert "chat template does not render `tools`" in str(caught.value) and "no tool-call parser" in str(caught.value)
    with pytest.raises(InvalidRequest) as caught:
        tool_calling(chat(tools=TOOLS, tool_choice="auto"), support=ToolSupport(parser="hermes"), base_model="tiny")
    assert "chat template" in str(caught.value) and "parser" not in str(caught.value).split("lacks them:")[1]
    with pytest.raises(InvalidRequest, match="lacks them: no tool-call parser is configured"):
        tool_calling(chat(tools=TOOLS), support=ToolSupport(template_renders_tools=True), base_model="tiny")
    assert tool_calling(chat(tools=TOOLS, tool_choice="none"), support=ToolSupport(), base_model="tiny") is None


def test_the_service_refuses_an_unknown_parser_and_reads_what_hermes_needs() -> None:
    with pytest.raises(ValueError, match=r"no tool-call parser 'nope'.*hermes"):
        VllmToolCalls(tokenizer(SHOWS_TOOLS), "nope")
    assert VllmEngine(None, tokenizer(PLAIN), 256).tool_support == ToolSupport()
    support = VllmEngine(None, tokenizer(SHOWS_TOOLS), 256, tool_call_parser="hermes").tool_support
    assert support == ToolSupport(template_renders_tools=True, parser="hermes", keeps_special_tokens=True)

    body = chat(tools=TOOLS, tool_choice="auto")
    auto = tool_calling(body, support=support, base_model="tiny")
    assert auto is not None and auto.auto and auto.choice == "auto"
    assert structured_output(None, auto) is None  # free text, read afterwards by the parser
    options = sampling_options(body, max_tokens=8, top_logprobs=None, structured=None,
                               keep_special_tokens=auto.keeps_special_tokens)
    assert sampling_params(options).skip_special_tokens is False  # <tool_call> may be a special token


def test_an_auto_answer_is_read_by_the_parser_into_calls_or_content() -> None:
    parser = VllmToolCalls(tokenizer(SHOWS_TOOLS), "hermes")
    support = parser.support
    auto = tool_calling(chat(tools=TOOLS), support=support, base_model="tiny")
    assert auto is not None
    message, finish = tool_message(f"Let me look. {CALL}", "stop", auto, parser.extract)
    assert finish == "tool_calls" and message["content"] == "Let me look. "
    [call] = message["tool_calls"]
    assert call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"]["name"] == "lookup" and json.loads(call["function"]["arguments"]) == {"part": "pad"}

    assert tool_message("Pads are in aisle 3.", "length", auto, parser.extract) == (
        {"role": "assistant", "content": "Pads are in aisle 3."}, "length")
    broken = '<tool_call>{"name": "lookup", "argu'
    assert tool_message(broken, "length", auto, parser.extract) == ({"role": "assistant", "content": broken}, "length")

    two = CALL + '<tool_call>{"name": "ping", "arguments": {}}</tool_call>'
    assert [c["function"]["name"] for c in tool_message(two, "stop", auto, parser.extract)[0]["tool_calls"]] == \
        ["lookup", "ping"]
    single = tool_calling(chat(tools=TOOLS, parallel_tool_calls=False), support=support, base_model="tiny")
    assert single is not None
    assert [c["function"]["name"] for c in tool_message(two, "stop", single, parser.extract)[0]["tool_calls"]] == \
        ["lookup"]


class ScriptedLlm:
    """Stands in for vLLM's AsyncLLM: answers every request with `answer`, in two deltas."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.params: list[Any] = []

    async def generate(self, prompt: Any, params: Any, request_id: str, lora_request: Any = None) -> Any:
        self.params.append(params)
        half = len(self.answer) // 2
        for text, finish in ((self.answer[:half], None), (self.answer[half:], "stop")):
            yield SimpleNamespace(outputs=[SimpleNamespace(index=0, text=text, token_ids=[3], finish_reason=finish,
                                                           logprobs=None)])


@pytest.fixture
async def service(tmp_path: Path) -> tuple[TestClient, ScriptedLlm, list[Any]]:
    """The chat endpoint on a VllmEngine with a tools template and the hermes parser; its generation scripted."""
    llm = ScriptedLlm(f"Let me look. {CALL}")
    engine = VllmEngine(llm, tokenizer(SHOWS_TOOLS), 256, tool_call_parser="hermes")
    registry = FakeRegistry(tmp_path / "reg")
    swaps = SwapManager(engine=FakeEngine(), registry=registry, base_model="tiny", replica_id="r",
                        cache=AdapterCache(tmp_path / "c", registry=registry, limits=AdapterLimits(16, frozenset())))
    await swaps.converge(ServingPlan(adapters={}))
    logs: list[Any] = []
    app = FastAPI()
    app.state.settings = SimpleNamespace(default_max_tokens=16, base_model="tiny")
    app.state.api_key_digests = frozenset()
    app.state.generation = GenerationService(
        engine=engine, swaps=swaps, base_model="tiny", is_ready=lambda: True,
        logs=SimpleNamespace(submit=lambda event, key, headers: logs.append(event) or True))
    install_error_handlers(app)
    app.include_router(chat_api.router)
    return TestClient(app), llm, logs


def test_auto_through_the_endpoint_answers_openai_tool_calls_also_streamed(
    service: tuple[TestClient, ScriptedLlm, list[Any]],
) -> None:
    client, llm, logs = service
    body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "tools": TOOLS}
    answer = client.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    [choice] = ChatCompletion.model_validate(answer.json()).choices
    assert choice.finish_reason == "tool_calls" and choice.message.content == "Let me look. "
    [call] = choice.message.tool_calls or []
    assert call.function.name == "lookup" and json.loads(call.function.arguments) == {"part": "pad"}  # type: ignore[union-attr]
    params = llm.params[-1]
    assert params.structured_outputs is None and params.skip_special_tokens is False
    assert '"name": "lookup"' in logs[-1].prompt  # the template showed the tools to the model
    assert logs[-1].completion == f"Let me look. {CALL}" and logs[-1].metadata["tool_choice"] == "auto"

    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as streamed:
        lines = [line[6:] for line in streamed.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate(json.loads(line)) for line in lines[:-1]]
    deltas = [c.choices[0] for c in chunks]
    assert deltas[0].delta.role == "assistant" and deltas[-1].finish_reason == "tool_calls"
    [streamed_call] = [t for d in deltas for t in d.delta.tool_calls or []]
    assert streamed_call.index == 0 and streamed_call.function is not None
    assert (streamed_call.function.name, streamed_call.function.arguments) == (
        call.function.name, call.function.arguments)  # type: ignore[union-attr]
    assert "".join(d.delta.content or "" for d in deltas) == "Let me look. "

    llm.answer = "Pads are in aisle 3."  # no call: plain content, the model's own finish reason
    plain = ChatCompletion.model_validate(client.post("/v1/chat/completions", json=body).json()).choices[0]
    assert (plain.message.content, plain.message.tool_calls, plain.finish_reason) == (llm.answer, None, "stop")
