"""OpenAI request bodies: honoured fields become engine options, anything else is refused by name."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from adaptloop_contracts import tool_calls_text
from adaptloop_contracts.openai_requests import ChatBody, CompletionBody
from adaptloop_inference.api.options import (
    asked,
    parse_tool_calls,
    sampling_options,
    structured_output,
    tool_calling,
)
from adaptloop_inference.errors import InvalidRequest
from adaptloop_inference.ports import ToolSupport
from pydantic import ValidationError

LOOKUP = {"type": "object", "properties": {"part": {"type": "string"}}, "required": ["part"]}
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": LOOKUP}},
         {"type": "function", "function": {"name": "ping"}}]


def chat(**fields: Any) -> ChatBody:
    return ChatBody.model_validate({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields})


@pytest.mark.parametrize(("fields", "named"), [
    ({"modalities": ["text"]}, "modalities"),
    ({"store": True}, "store"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, "messages"),
    ({"top_logprobs": 2}, "top_logprobs needs logprobs"),
    ({"stream_options": {"include_usage": True}}, "stream_options"),
    ({"n": 9}, "n"),
    ({"logit_bias": {"abc": 1}}, "token ids"),
    ({"tool_choice": "required"}, "tool_choice needs tools"),
    ({"response_format": {"type": "json_schema"}}, "json_schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 3}}}},
     "not a valid JSON schema"),
])
def test_unsupported_or_inconsistent_fields_are_refused_by_name(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError) as caught:
        chat(**fields)
    assert named in str(caught.value)


def test_completion_fields() -> None:
    with pytest.raises(ValidationError, match="echo"):
        CompletionBody.model_validate({"model": "m", "prompt": "p", "echo": True})
    with pytest.raises(ValidationError, match="best_of must equal n"):
        CompletionBody.model_validate({"model": "m", "prompt": "p", "best_of": 3})
    body = CompletionBody.model_validate({"model": "m", "prompt": "p", "n": 2, "best_of": 2, "logprobs": 3,
                                          "response_format": {"type": "json_object"}, "logit_bias": {"7": -100}})
    options = sampling_options(body, max_tokens=5, top_logprobs=body.logprobs,
                               structured=structured_output(body.response_format, None))
    assert (options.n, options.top_logprobs, options.logit_bias) == (2, 3, ((7, -100.0),))
    assert options.structured is not None and options.structured.kind == "json_object"
    assert asked(body, None, 3) == {"response_format": "json_object", "n": 2, "logprobs": 3}


def test_sampling_fields_reach_the_engine_options() -> None:
    body = chat(temperature=0.5, top_p=0.9, seed=3, stop=["\n"], presence_penalty=0.5, frequency_penalty=-0.5,
                top_k=5, min_p=0.1, repetition_penalty=1.1, n=2,
                response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": LOOKUP,
                                                                        "strict": True}})
    options = sampling_options(body, max_tokens=9, top_logprobs=None,
                               structured=structured_output(body.response_format, None))
    assert (options.temperature, options.top_p, options.seed, options.stop, options.presence_penalty,
            options.frequency_penalty, options.top_k, options.min_p, options.repetition_penalty, options.n) == (
        0.5, 0.9, 3, ("\n",), 0.5, -0.5, 5, 0.1, 1.1, 2)
    assert options.structured is not None and options.structured.schema == LOOKUP
    assert asked(body, None, None) == {"response_format": "json_schema", "response_format_name": "x", "n": 2}


def test_required_and_named_tool_choices_decode_under_the_tools_schemas() -> None:
    required = tool_calling(chat(tools=TOOLS, tool_choice="required"), support=ToolSupport(),
                            base_model="tiny")
    assert required is not None and required.finish_reason == "tool_calls"
    schema = required.schema()
    jsonschema.validate([{"name": "lookup", "parameters": {"part": "pad"}}, {"name": "ping", "parameters": {}}],
                        schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"name": "lookup", "parameters": {}}], schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([], schema)
    single = tool_calling(chat(tools=TOOLS, tool_choice="required", parallel_tool_calls=False),
                          support=ToolSupport(), base_model="tiny")
    assert single is not None and single.schema()["maxItems"] == 1

    body = chat(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "lookup"}})
    named = tool_calling(body, support=ToolSupport(), base_model="tiny")
    assert named is not None and named.finish_reason == "stop"
    assert named.schema()["items"]["properties"]["name"]["enum"] == ["lookup"]
    assert asked(body, named, None) == {"tools": ["lookup", "ping"], "tool_choice": "function:lookup"}
    with pytest.raises(ValidationError, match="not in tools"):
        chat(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "other"}})


def test_a_guided_answer_becomes_openai_tool_calls_and_back() -> None:
    text = '[{"name":"lookup","parameters":{"part":"pad"}}]'
    [call] = parse_tool_calls(text) or []
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"] == {"name": "lookup", "arguments": json.dumps({"part": "pad"}, separators=(",", ":"))}
    assert tool_calls_text([call]) == text
    assert parse_tool_calls('[{"name":"lookup","parameters":{"pa') is None


async def test_the_engines_refusal_is_a_400_and_its_outputs_become_choices_with_logprobs() -> None:
    from types import SimpleNamespace

    from adaptloop_inference.infra.vllm_engine import VllmEngine, sampling_params
    from adaptloop_inference.ports import SamplingOptions, StructuredOutput
    from vllm.exceptions import VLLMValidationError

    def lp(logprob: float, rank: int, token: str) -> SimpleNamespace:
        return SimpleNamespace(logprob=logprob, rank=rank, decoded_token=token)

    class Llm:
        def __init__(self, refuse: bool) -> None:
            self.refuse = refuse
            self.params: Any = None

        async def generate(self, prompt: Any, params: Any, request_id: str, lora_request: Any = None) -> Any:
            self.params = params
            if self.refuse:
                raise VLLMValidationError("grammar not supported", parameter="response_format")
            second = SimpleNamespace(index=1, text="b", token_ids=[8], finish_reason="stop",
                                     logprobs=[{8: lp(-1.5, 2, "b"), 7: lp(-0.2, 1, "a")}])
            yield SimpleNamespace(outputs=[second], finished=False)

    options = SamplingOptions(max_tokens=4, n=2, top_logprobs=2, logit_bias=((7, 5.0),),
                              structured=StructuredOutput("json_schema", LOOKUP))
    with pytest.raises(InvalidRequest, match="grammar not supported") as caught:
        [c async for c in VllmEngine(Llm(True), None, 256).generate(
            request_id="r", prompt_text="p", prompt_ids=[1], options=options, lora=None)]
    assert caught.value.param == "response_format"
    llm = Llm(False)
    [chunk] = [c async for c in VllmEngine(llm, None, 256).generate(
        request_id="r", prompt_text="p", prompt_ids=[1], options=options, lora=None)]
    assert (chunk.index, chunk.text, chunk.finish_reason, chunk.logprob_sum) == (1, "b", "stop", -1.5)
    assert chunk.logprobs is not None and chunk.logprobs[0].top == (("a", -0.2), ("b", -1.5))
    params = sampling_params(options)
    assert (params.n, params.logprobs, params.logit_bias) == (2, 2, {7: 5.0})
    assert params.structured_outputs.json == LOOKUP and llm.params.n == 2
