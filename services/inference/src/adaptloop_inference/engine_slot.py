"""The engine starts after the HTTP server (tens of seconds); this slot stands in until it is there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from adaptloop_inference.errors import NotReady
from adaptloop_inference.ports import (
    GenerationChunk,
    LoraHandle,
    ParsedToolCalls,
    SamplingOptions,
    TextEngine,
    ToolSupport,
)


class EngineSlot:
    """A `TextEngine` that delegates to the real one once `fill` was called, and answers NotReady before."""

    def __init__(self) -> None:
        self._engine: TextEngine | None = None

    def fill(self, engine: TextEngine) -> None:
        self._engine = engine

    @property
    def filled(self) -> bool:
        return self._engine is not None

    @property
    def engine(self) -> TextEngine:
        if self._engine is None:
            raise NotReady("the engine is still starting")
        return self._engine

    @property
    def max_model_len(self) -> int:
        return self.engine.max_model_len

    def tokenize(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return self.engine.tokenize(text, add_special_tokens=add_special_tokens)

    def render_chat(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None) -> str:
        return self.engine.render_chat(messages, tools=tools)

    @property
    def tool_support(self) -> ToolSupport:
        return self.engine.tool_support

    def extract_tool_calls(self, text: str, tools: list[dict[str, Any]]) -> ParsedToolCalls:
        return self.engine.extract_tool_calls(text, tools)

    def vocab_size(self) -> int:
        return self.engine.vocab_size()

    def generate(
        self, *, request_id: str, prompt_text: str, prompt_ids: list[int], options: SamplingOptions,
        lora: LoraHandle | None,
    ) -> AsyncIterator[GenerationChunk]:
        return self.engine.generate(request_id=request_id, prompt_text=prompt_text, prompt_ids=prompt_ids,
                                    options=options, lora=lora)

    async def add_lora(self, lora: LoraHandle) -> None:
        await self.engine.add_lora(lora)

    async def remove_lora(self, lora_id: int) -> None:
        await self.engine.remove_lora(lora_id)

    async def list_lora_ids(self) -> set[int]:
        return await self.engine.list_lora_ids() if self.filled else set()
