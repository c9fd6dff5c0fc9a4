"""What the domain needs from the outside world; `adapters/` implements these, tests pass fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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
class SamplingOptions:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationChunk:
    """Text produced since the previous chunk; the last one has `finish_reason` set."""

    text: str
    token_count: int
    logprob_sum: float
    finish_reason: str | None = None


class TextEngine(Protocol):
    def tokenize(self, text: str, *, add_special_tokens: bool) -> list[int]: ...

    def render_chat(self, messages: list[dict[str, str]]) -> str: ...

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
