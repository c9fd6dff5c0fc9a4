"""`inference.logs` and `inference.feedback`: what was asked, answered and how it was rated."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from adaptloop_contracts.base import Event, LongText, Metadata, ShortText

INFERENCE_LOGS = "inference.logs"
INFERENCE_FEEDBACK = "inference.feedback"


class InferenceLog(Event):
    EVENT_TYPES: ClassVar[tuple[str, ...]] = ("inference.log",)

    event_type: Literal["inference.log"] = "inference.log"
    request_id: ShortText
    adapter_version: int | None = Field(default=None, ge=1)
    base_model: ShortText
    tenant: ShortText | None = None
    prompt: LongText
    completion: LongText
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    latency_ms: float = Field(ge=0)
    mean_logprob: float | None = Field(default=None, le=0)
    metadata: Metadata = Field(default_factory=dict)


class InferenceFeedback(Event):
    EVENT_TYPES: ClassVar[tuple[str, ...]] = ("inference.feedback",)

    event_type: Literal["inference.feedback"] = "inference.feedback"
    inference_event_id: uuid.UUID
    score: float = Field(ge=-1.0, le=1.0)
    correction: LongText | None = None
    correction_tool_calls: list[dict[str, Any]] | None = Field(default=None, min_length=1, max_length=64)
    """A correction that is tool calls (OpenAI-shaped); `correction` then holds their text form."""
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _tool_call_correction(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("correction_tool_calls") is None:
            return data
        try:
            text = tool_calls_text(data["correction_tool_calls"])
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"correction_tool_calls: each needs function.name and JSON arguments ({exc})") from exc
        if data.get("correction") not in (None, text):
            raise ValueError("correction and correction_tool_calls disagree; give one of them")
        return {**data, "correction": text}


def tool_calls_text(tool_calls: Sequence[Mapping[str, Any]]) -> str:
    """The text form of tool calls: what a tool-calling answer's `completion` holds, and a correction's form.

    Takes OpenAI-shaped calls (`{"function": {"name", "arguments"}}`, arguments a JSON string or an
    object) and gives `[{"name":...,"parameters":{...}}]` as compact JSON, which is what the inference
    service has the model write under guided decoding, so a correction trains the same output.
    """
    calls = []
    for call in tool_calls:
        function = call.get("function", call)
        arguments = function.get("arguments", function.get("parameters", {}))
        if isinstance(arguments, str):
            arguments = json.loads(arguments) if arguments.strip() else {}
        calls.append({"name": function["name"], "parameters": arguments})
    return json.dumps(calls, separators=(",", ":"), ensure_ascii=False)
