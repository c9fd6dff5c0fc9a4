"""What the domain needs from the outside world; `infra/` implements these, tests pass fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from adaptloop_contracts import ServingReport

from adaptloop_inference.plan import ServingPlan, VersionRef


@dataclass(frozen=True)
class LoraHandle:
    """An adapter version as loaded into the engine, under a name and id used by nothing else."""

    ref: VersionRef
    lora_id: int
    path: Path

    @property
    def lora_name(self) -> str:
        return str(self.ref)


@dataclass(frozen=True)
class StructuredOutput:
    """Guided decoding: the answer is JSON (any object for `json_object`, else valid against `schema`)."""

    kind: Literal["json_object", "json_schema"]
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class SamplingOptions:
    """What the engine is asked for; every field maps onto one of vLLM's `SamplingParams`."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    n: int = 1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    logit_bias: tuple[tuple[int, float], ...] = ()
    top_logprobs: int | None = None
    """Alternatives per generated token to return (0: only the sampled token's); None: none returned."""
    structured: StructuredOutput | None = None
    skip_special_tokens: bool = True
    """False when a tool-call parser reads special tokens (e.g. `<tool_call>`) in the answer's text."""


@dataclass(frozen=True)
class ToolSupport:
    """What `tool_choice: auto` needs from the base model: a chat template that shows it the tools, and a
    parser of the syntax its calls are written in (one of vLLM's tool-call parsers, named in the settings)."""

    template_renders_tools: bool = False
    parser: str | None = None
    keeps_special_tokens: bool = False
    """The parser reads special tokens, so they are kept in the answer's text."""

    def lacks(self) -> list[str]:
        """What is missing for `auto`, in words for a 400; empty when the model can do it."""
        missing = []
        if not self.template_renders_tools:
            missing.append("its chat template does not render `tools`")
        if self.parser is None:
            missing.append("no tool-call parser is configured (ADAPTLOOP_INFERENCE_TOOL_CALL_PARSER, e.g. hermes)")
        return missing


@dataclass(frozen=True)
class ParsedToolCalls:
    """A free answer read by the tool-call parser: text around the calls, and each call's name and arguments."""

    content: str | None
    calls: tuple[tuple[str, str], ...] = ()
    """(function name, arguments as a JSON string)."""


@dataclass(frozen=True)
class TokenLogprob:
    """The engine's log-probability of one generated token and of its `top` alternatives (best first)."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class GenerationChunk:
    """Text of choice `index` produced since its previous chunk; its last one has `finish_reason` set."""

    text: str
    token_count: int
    logprob_sum: float
    finish_reason: str | None = None
    index: int = 0
    logprobs: tuple[TokenLogprob, ...] | None = None
    """Per token, when the request asked for log-probabilities."""


class TextEngine(Protocol):
    def tokenize(self, text: str, *, add_special_tokens: bool) -> list[int]: ...

    def render_chat(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None) -> str: ...

    @property
    def tool_support(self) -> ToolSupport:
        """Whether the model can answer `tool_choice: auto`, and what it lacks."""
        ...

    def extract_tool_calls(self, text: str, tools: list[dict[str, Any]]) -> ParsedToolCalls:
        """The calls in a free answer, read by the configured tool-call parser (needs `tool_support.parser`)."""
        ...

    def vocab_size(self) -> int: ...

    @property
    def max_model_len(self) -> int: ...

    def generate(
        self, *, request_id: str, prompt_text: str, prompt_ids: list[int], options: SamplingOptions,
        lora: LoraHandle | None,
    ) -> AsyncIterator[GenerationChunk]: ...

    async def add_lora(self, lora: LoraHandle) -> None: ...

    async def remove_lora(self, lora_id: int) -> None: ...

    async def list_lora_ids(self) -> set[int]: ...


class RegistryPort(Protocol):
    async def fetch_plan(self) -> ServingPlan: ...

    async def download_artifact(self, sha256: str, dest: Path) -> None: ...

    async def report_load_failure(self, ref: VersionRef, *, replica: str, reason: str) -> None: ...


class ServingReportPort(Protocol):
    async def report_serving(self, report: ServingReport) -> bool:
        """Deliver one report; True when the registry had counted it already. Raises `ReportRefused`."""
        ...
