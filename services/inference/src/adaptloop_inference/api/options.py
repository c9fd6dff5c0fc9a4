"""From an OpenAI request body to what the engine is asked: sampling, guided decoding, tool calling.

Tool calls for `tool_choice` `required` or a named function are decoded under a JSON schema built
from the tools (as vLLM's own server does), so they work with any base model: the model writes
`[{"name": ..., "parameters": {...}}]` and the answer is turned into OpenAI `tool_calls`. That text
is also what the inference log records as the completion, and the form a correction takes
(`adaptloop_contracts.tool_calls_text`). `auto` needs the model's own means: a chat template that
shows it the tools, and vLLM's parser of the syntax it writes calls in (`ToolSupport`); the answer
is free text, read by that parser into `tool_calls` or left as `content`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adaptloop_contracts.openai_requests import ChatBody, CompletionBody, NamedToolChoice, ResponseFormat, Tool

from adaptloop_inference.errors import InvalidRequest
from adaptloop_inference.ports import ParsedToolCalls, SamplingOptions, StructuredOutput, ToolSupport

EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class ToolCalling:
    """A request whose answer may or must be tool calls: `auto` (the model decides, its own syntax read by the
    configured parser), `required` (any of `tools`) or one named function (both guided)."""

    tools: tuple[Tool, ...]
    named: str | None
    parallel: bool
    auto: bool = False
    keeps_special_tokens: bool = False
    """`auto` only: the parser reads special tokens, so the engine keeps them in the text."""

    @property
    def choice(self) -> str:
        return "auto" if self.auto else f"function:{self.named}" if self.named else "required"

    def schema(self) -> dict[str, Any]:
        """An array of `{name, parameters}` objects, each valid against its tool's parameter schema."""
        candidates = [t for t in self.tools if self.named is None or t.function.name == self.named]
        variants = [{
            "type": "object",
            "properties": {"name": {"type": "string", "enum": [t.function.name]},
                           "parameters": t.function.parameters or EMPTY_PARAMETERS},
            "required": ["name", "parameters"],
            "additionalProperties": False,
        } for t in candidates]
        items = variants[0] if len(variants) == 1 else {"anyOf": variants}
        schema: dict[str, Any] = {"type": "array", "items": items, "minItems": 1}
        if self.named or not self.parallel:
            schema["maxItems"] = 1
        return schema

    @property
    def finish_reason(self) -> str:
        """OpenAI's: `tool_calls` when the model called tools (`auto`) or had to (`required`); `stop` when named."""
        return "stop" if self.named else "tool_calls"

    def tool_dicts(self) -> list[dict[str, Any]]:
        return [t.model_dump(exclude_none=True) for t in self.tools]


ExtractToolCalls = Callable[[str, list[dict[str, Any]]], ParsedToolCalls]
"""The engine's tool-call parser: (free answer, tools) -> text and calls."""


def tool_calling(body: ChatBody, *, support: ToolSupport, base_model: str) -> ToolCalling | None:
    """None for free text (`none`, or no tools); a 400 naming what the model lacks for `auto`."""
    choice = body.effective_tool_choice
    if choice == "none" or not body.tools:
        return None
    if choice == "auto":
        lacks = support.lacks()
        if lacks:
            raise InvalidRequest(
                f"tool_choice 'auto' needs a model whose chat template shows the tools to it and a parser of its "
                f"tool-call syntax; {base_model} lacks them: {'; '.join(lacks)}. Use tool_choice 'required' or a "
                f"named function (decoded under the tools' JSON schemas, works with any model), or 'none'",
                param="tool_choice")
        return ToolCalling(tuple(body.tools), None, body.parallel_tool_calls, auto=True,
                           keeps_special_tokens=support.keeps_special_tokens)
    named = choice.function.name if isinstance(choice, NamedToolChoice) else None
    return ToolCalling(tuple(body.tools), named, body.parallel_tool_calls)


def tool_message(text: str, finish_reason: str | None, tools: ToolCalling,
                 extract: ExtractToolCalls) -> tuple[dict[str, Any], str | None]:
    """The assistant message of a tool-calling answer and its finish reason. A guided answer cut short by
    max_tokens stays text; an `auto` answer without calls is text (`content`), as the parser leaves it."""
    if tools.auto:
        parsed = extract(text, tools.tool_dicts())
        calls = [openai_tool_call(name, arguments) for name, arguments in parsed.calls]
        if not calls:
            return {"role": "assistant", "content": parsed.content}, finish_reason
        content = parsed.content
    else:
        guided = parse_tool_calls(text)
        if guided is None:
            return {"role": "assistant", "content": text}, finish_reason
        calls, content = guided, None
    if not tools.parallel:
        calls = calls[:1]
    return {"role": "assistant", "content": content, "tool_calls": calls}, tools.finish_reason


def structured_output(response_format: ResponseFormat | None, tools: ToolCalling | None) -> StructuredOutput | None:
    if tools is not None and not tools.auto:
        return StructuredOutput("json_schema", tools.schema())
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return StructuredOutput("json_object")
    assert response_format.json_schema is not None
    return StructuredOutput("json_schema", response_format.json_schema.schema_)


def sampling_options(body: ChatBody | CompletionBody, *, max_tokens: int, top_logprobs: int | None,
                     structured: StructuredOutput | None, keep_special_tokens: bool = False) -> SamplingOptions:
    return SamplingOptions(
        max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, seed=body.seed,
        stop=body.stop_strings(), n=body.n, presence_penalty=body.presence_penalty,
        frequency_penalty=body.frequency_penalty, repetition_penalty=body.repetition_penalty, top_k=body.top_k,
        min_p=body.min_p, logit_bias=body.logit_bias_pairs(), top_logprobs=top_logprobs, structured=structured,
        skip_special_tokens=not keep_special_tokens,
    )


def asked(body: ChatBody | CompletionBody, tools: ToolCalling | None, top_logprobs: int | None) -> dict[str, Any]:
    """What the caller asked beyond plain text, for the inference log's metadata (drift and training)."""
    out: dict[str, Any] = {}
    response_format = body.response_format
    if response_format is not None and response_format.type != "text":
        out["response_format"] = response_format.type
        if response_format.json_schema is not None:
            out["response_format_name"] = response_format.json_schema.name
    if isinstance(body, ChatBody) and body.tools:
        out["tools"] = [t.function.name for t in body.tools]
        out["tool_choice"] = tools.choice if tools is not None else body.effective_tool_choice
    if body.n > 1:
        out["n"] = body.n
    if top_logprobs is not None:
        out["logprobs"] = top_logprobs
    return out


def parse_tool_calls(text: str) -> list[dict[str, Any]] | None:
    """OpenAI `tool_calls` from a guided answer; None when it is not complete JSON (cut by max_tokens)."""
    try:
        calls = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(calls, list) or not all(isinstance(c, dict) and "name" in c for c in calls):
        return None
    return [openai_tool_call(c["name"], json.dumps(c.get("parameters", {}), separators=(",", ":"), ensure_ascii=False))
            for c in calls]


def openai_tool_call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": name, "arguments": arguments}}
