"""Runs one completion or chat request: admit, generate, release, count, log.

Business rules only: which version serves, how the result is measured and recorded. The
HTTP layer turns the chunks into OpenAI JSON or server-sent events.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from adaptloop_contracts import InferenceLog, adapter_of
from adaptloop_kafka import trace_headers
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context

from adaptloop_inference import metrics
from adaptloop_inference.errors import InvalidRequest, ModelNotFound, NotReady
from adaptloop_inference.ports import GenerationChunk, SamplingOptions, TextEngine, TokenLogprob
from adaptloop_inference.swap_manager import Admission, SwapManager

RequestKind = Literal["completion", "chat"]


class LogSink(Protocol):
    def submit(self, event: InferenceLog, *, key: str, headers: list[tuple[str, bytes]]) -> bool: ...


@dataclass(frozen=True)
class GenerationRequest:
    """One typed input per request, whichever endpoint it came from."""

    request_id: str
    kind: RequestKind
    model: str
    options: SamplingOptions
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    """Tool definitions handed to the chat template (templates that do not render tools ignore them)."""
    user: str | None = None
    tenant: str | None = None
    asked: dict[str, Any] = field(default_factory=dict)
    """What the caller asked beyond plain text (response format, tool names, n): recorded in the log's metadata."""


@dataclass
class ChoiceResult:
    """One of the request's `n` answers as it grows."""

    text: str = ""
    completion_tokens: int = 0
    logprob_sum: float = 0.0
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] = field(default_factory=list)

    @property
    def mean_logprob(self) -> float | None:
        if not self.completion_tokens:
            return None
        return min(0.0, self.logprob_sum / self.completion_tokens)


@dataclass
class GenerationResult:
    """Every choice by index; the first one is what the inference log records."""

    choices: dict[int, ChoiceResult] = field(default_factory=dict)

    def choice(self, index: int) -> ChoiceResult:
        return self.choices.setdefault(index, ChoiceResult())

    def add(self, chunk: GenerationChunk) -> None:
        choice = self.choice(chunk.index)
        choice.text += chunk.text
        choice.completion_tokens += chunk.token_count
        choice.logprob_sum += chunk.logprob_sum
        if chunk.logprobs:
            choice.logprobs.extend(chunk.logprobs)
        if chunk.finish_reason is not None:
            choice.finish_reason = chunk.finish_reason

    def ordered(self) -> list[ChoiceResult]:
        return [self.choices[i] for i in sorted(self.choices)]

    @property
    def text(self) -> str:
        return self.choice(0).text

    @property
    def finish_reason(self) -> str | None:
        return self.choice(0).finish_reason

    @property
    def completion_tokens(self) -> int:
        """Over every choice, as OpenAI's `usage` counts them."""
        return sum(c.completion_tokens for c in self.choices.values())


@dataclass
class Generation:
    """An admitted request: the version is fixed before the first byte, so headers can name it."""

    request: GenerationRequest
    admission: Admission
    prompt_text: str
    prompt_ids: list[int]
    started: float
    trace_context: Context
    result: GenerationResult = field(default_factory=GenerationResult)
    log_event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    """The `event_id` of this request's `inference.log`, told to the client so it can rate the answer."""

    @property
    def served_version(self) -> str:
        return self.admission.resolution.header_value

    @property
    def prompt_tokens(self) -> int:
        return len(self.prompt_ids)


class GenerationService:
    def __init__(
        self, *, engine: TextEngine, swaps: SwapManager, logs: LogSink, base_model: str,
        is_ready: Callable[[], bool], refresh_plan: Callable[[], Awaitable[bool]] | None = None,
        served: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.engine = engine
        self._swaps = swaps
        self._logs = logs
        self._base_model = base_model
        self._is_ready = is_ready
        self._refresh_plan = refresh_plan
        """Asked once when a request names something unknown: the registry may have it already."""
        self._served = served
        """Told (adapter, version) of every request an adapter version answered, for the serving reports."""

    async def admit(self, request: GenerationRequest) -> Generation:
        """Resolve the model and fix the version; raises ModelNotFound, AdapterUnavailable, InvalidRequest."""
        if not self._is_ready():
            raise NotReady("the engine is starting or the serving plan is not synced yet")
        engine = self.engine
        if request.kind == "chat":
            prompt_text = engine.render_chat(request.messages or [], tools=request.tools)
            prompt_ids = engine.tokenize(prompt_text, add_special_tokens=False)
        else:
            prompt_text = request.prompt or ""
            prompt_ids = engine.tokenize(prompt_text, add_special_tokens=True)
        if not prompt_ids:
            raise InvalidRequest("the prompt is empty")
        room = engine.max_model_len - len(prompt_ids)
        if request.options.max_tokens > room:
            raise InvalidRequest(
                f"This model's maximum context length is {engine.max_model_len} tokens; the prompt has "
                f"{len(prompt_ids)} and max_tokens asks for {request.options.max_tokens}"
            )
        vocab = engine.vocab_size()
        outside = [token for token, _ in request.options.logit_bias if not 0 <= token < vocab]
        if outside:
            raise InvalidRequest(f"logit_bias: token ids {outside[:5]} are outside the vocabulary (0-{vocab - 1})",
                                 param="logit_bias")
        split_key = request.user or request.request_id
        try:
            admission = await self._swaps.admit(request.model, split_key=split_key)
        except ModelNotFound:
            if self._refresh_plan is None or not await self._refresh_plan():
                raise
            metrics.PLAN_REFRESHES.inc()
            admission = await self._swaps.admit(request.model, split_key=split_key)
        trace.get_current_span().set_attribute("adaptloop.served_version", admission.resolution.header_value)
        return Generation(request, admission, prompt_text, prompt_ids, time.monotonic(), otel_context.get_current())

    async def run(self, generation: Generation) -> AsyncIterator[GenerationChunk]:
        """Stream chunks; on the way out release the version, count and log whatever happened."""
        request = generation.request
        result = generation.result
        metrics.IN_FLIGHT.inc()
        try:
            async for chunk in self.engine.generate(
                request_id=request.request_id, prompt_text=generation.prompt_text, prompt_ids=generation.prompt_ids,
                options=request.options, lora=generation.admission.lora,
            ):
                result.add(chunk)
                yield chunk
        finally:
            metrics.IN_FLIGHT.dec()
            self._swaps.release(generation.admission)
        self._finish(generation)

    def release_unstarted(self, generation: Generation) -> None:
        self._swaps.release(generation.admission)

    def _finish(self, generation: Generation) -> None:
        request, result = generation.request, generation.result
        latency_s = time.monotonic() - generation.started
        metrics.REQUEST_LATENCY.labels(request.kind).observe(latency_s)
        metrics.TOKENS.labels("prompt").inc(generation.prompt_tokens)
        metrics.TOKENS.labels("completion").inc(result.completion_tokens)
        ref = generation.admission.resolution.ref
        metrics.VERSION_REQUESTS.labels(ref.name if ref else self._base_model, generation.served_version).inc()
        if ref is not None and self._served is not None:
            self._served(ref.name, ref.version, generation.prompt_tokens + result.completion_tokens)
        event = InferenceLog(
            event_id=generation.log_event_id,
            model=request.model,
            request_id=request.request_id,
            adapter_version=ref.version if ref else None,
            base_model=self._base_model,
            tenant=request.tenant,
            prompt=generation.prompt_text[:65_536],
            completion=result.text[:65_536],
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=result.choice(0).completion_tokens,
            latency_ms=round(latency_s * 1000, 3),
            mean_logprob=result.choice(0).mean_logprob,
            metadata=_metadata(generation),
        )
        self._logs.submit(event, key=adapter_of(request.model), headers=trace_headers(generation.trace_context))


def _metadata(generation: Generation) -> dict[str, Any]:
    request = generation.request
    out: dict[str, Any] = {"endpoint": request.kind, "finish_reason": generation.result.finish_reason}
    if generation.admission.resolution.alias:
        out["alias"] = generation.admission.resolution.alias
    if request.user:
        out["user"] = request.user[:256]
    out.update(request.asked)
    return out
