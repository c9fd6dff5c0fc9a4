"""From an OpenAI request body to what the engine is asked: sampling, guided decoding, tool calling.

Tool calls for `tool_choice` `required` or a named function are decoded under a JSON schema built
from the tools (as vLLM's own server does), so they work with any base model: the model writes
`[{"name": ..., "parameters": {...}}]` and the answer is turned into OpenAI `tool_calls`. That text
is also what the inference log records as the completion, and the form a correction takes
(`adaptloop_contracts.tool_calls_text`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from adaptloop_inference.api.schemas import ChatBody, CompletionBody, NamedToolChoice, ResponseFormat, Tool
from adaptloop_inference.errors import InvalidRequest
from adaptloop_inference.ports import SamplingOptions, StructuredOutput

EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class ToolCalling:
    """A request whose answer must be tool calls: one named function, or any of `tools` (`required`)."""

    tools: tuple[Tool, ...]
    named: str | None
    parallel: bool

    @property
    def choice(self) -> str:
        return f"function:{self.named}" if self.named else "required"

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
        """OpenAI's: `tool_calls` when the model had to call some tool, `stop` for a named function."""
        return "stop" if self.named else "tool_calls"


def tool_calling(body: ChatBody, *, template_renders_tools: bool, base_model: str) -> ToolCalling | None:
    """None for free text (`none`, or no tools); a 400 for `auto` where the model cannot do it."""
    choice = body.effective_tool_choice
    if choice == "none" or not body.tools:
        return None
    if choice == "auto":
        lacks = "does not render `tools`" if not template_renders_tools else "has no tool-call parser configured"
        raise InvalidRequest(
            f"tool_choice 'auto' needs a model whose chat template shows the tools to it and a parser of its "
            f"tool-call syntax; the chat template of {base_model} {lacks}. Use tool_choice 'required' or a "
            f"named function (decoded under the tools' JSON schemas, works with any model), or 'none'",
            param="tool_choice")
    named = choice.function.name if isinstance(choice, NamedToolChoice) else None
    return ToolCalling(tuple(body.tools), named, body.parallel_tool_calls)


def structured_output(response_format: ResponseFormat | None, tools: ToolCalling | None) -> StructuredOutput | None:
    if tools is not None:
        return StructuredOutput("json_schema", tools.schema())
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return StructuredOutput("json_object")
    assert response_format.json_schema is not None
    return StructuredOutput("json_schema", response_format.json_schema.schema_)


def sampling_options(body: ChatBody | CompletionBody, *, max_tokens: int, top_logprobs: int | None,
                     structured: StructuredOutput | None) -> SamplingOptions:
    return SamplingOptions(
        max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, seed=body.seed,
        stop=body.stop_strings(), n=body.n, presence_penalty=body.presence_penalty,
        frequency_penalty=body.frequency_penalty, repetition_penalty=body.repetition_penalty, top_k=body.top_k,
        min_p=body.min_p, logit_bias=body.logit_bias_pairs(), top_logprobs=top_logprobs, structured=structured,
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
    return [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": c["name"],
                          "arguments": json.dumps(c.get("parameters", {}), separators=(",", ":"),
                                                  ensure_ascii=False)}}
            for c in calls]
