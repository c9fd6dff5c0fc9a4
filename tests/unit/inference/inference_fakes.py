"""Fakes of the inference service's ports, and adapter files written without torch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
from adaptloop_inference.adapter_files import CONFIG_FILE, WEIGHTS_FILE, sha256_of
from adaptloop_inference.errors import AdapterRejected
from adaptloop_inference.plan import AdapterPlan, AliasTarget, ServingPlan, VersionArtifacts, VersionRef
from adaptloop_inference.ports import GenerationChunk, LoraHandle, ParsedToolCalls, SamplingOptions, ToolSupport
from safetensors.numpy import save_file

PREFIX = "base_model.model.model.layers.0.self_attn"


def write_adapter(directory: Path, *, rank: int = 8, modules: tuple[str, ...] = ("q_proj", "v_proj"),
                  config_rank: int | None = None, extra: dict[str, object] | None = None,
                  fill: float = 0.0) -> VersionArtifacts:
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for module in modules:
        tensors[f"{PREFIX}.{module}.lora_A.weight"] = np.full((rank, 128), fill, dtype=np.float32)
        tensors[f"{PREFIX}.{module}.lora_B.weight"] = np.zeros((128, rank), dtype=np.float32)
    save_file(tensors, str(directory / WEIGHTS_FILE))
    config = {"peft_type": "LORA", "r": config_rank or rank, "lora_alpha": 16, "target_modules": list(modules),
              **(extra or {})}
    (directory / CONFIG_FILE).write_text(json.dumps(config))
    return VersionArtifacts(sha256_of(directory / WEIGHTS_FILE), sha256_of(directory / CONFIG_FILE))


class FakeEngine:
    """Generates `<lora name or base>:<prompt>` one character per chunk; can be held mid-generation."""

    def __init__(self) -> None:
        self.loaded: dict[int, str] = {}
        self.added: list[str] = []
        self.release = asyncio.Event()
        self.release.set()
        self.refuse: set[str] = set()

    @property
    def max_model_len(self) -> int:
        return 256

    def tokenize(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return [ord(c) for c in text]

    def render_chat(self, messages: list[dict[str, object]], *, tools: list[dict[str, object]] | None = None) -> str:
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    @property
    def tool_support(self) -> ToolSupport:
        return ToolSupport()

    def extract_tool_calls(self, text: str, tools: list[dict[str, object]]) -> ParsedToolCalls:
        return ParsedToolCalls(text)

    def vocab_size(self) -> int:
        return 0x110000

    async def generate(
        self, *, request_id: str, prompt_text: str, prompt_ids: list[int], options: SamplingOptions,
        lora: LoraHandle | None,
    ) -> AsyncIterator[GenerationChunk]:
        answer = f"{lora.lora_name if lora else 'base'}"
        for i, char in enumerate(answer[: options.max_tokens]):
            await self.release.wait()
            last = i == min(len(answer), options.max_tokens) - 1
            yield GenerationChunk(char, 1, -0.5, "stop" if last else None)

    async def add_lora(self, lora: LoraHandle) -> None:
        if lora.lora_name in self.refuse:
            raise RuntimeError("engine says no")
        assert lora.lora_id not in self.loaded, "lora ids are never reused"
        self.loaded[lora.lora_id] = lora.lora_name
        self.added.append(lora.lora_name)

    async def remove_lora(self, lora_id: int) -> None:
        self.loaded.pop(lora_id, None)

    async def list_lora_ids(self) -> set[int]:
        return set(self.loaded)


class FakeRegistry:
    """Serves artifacts from a dict and remembers failure reports."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs: dict[str, bytes] = {}
        self.plan = ServingPlan({})
        self.reports: list[tuple[VersionRef, str]] = []
        self.downloads = 0
        self.plan_fetches = 0

    def publish(self, name: str, version: int, **kwargs: object) -> VersionArtifacts:
        directory = self.root / f"{name}-{version}"
        artifacts = write_adapter(directory, fill=float(version), **kwargs)  # type: ignore[arg-type]
        self.blobs[artifacts.weights_sha256] = (directory / WEIGHTS_FILE).read_bytes()
        self.blobs[artifacts.config_sha256] = (directory / CONFIG_FILE).read_bytes()
        return artifacts

    def set_plan(self, adapters: dict[str, tuple[dict[str, int], dict[int, VersionArtifacts]]],
                 base_model: str = "tiny") -> None:
        self.plan = ServingPlan({
            name: AdapterPlan(name, base_model, {a: AliasTarget(v) for a, v in aliases.items()}, versions)
            for name, (aliases, versions) in adapters.items()
        })

    async def fetch_plan(self) -> ServingPlan:
        self.plan_fetches += 1
        return self.plan

    async def download_artifact(self, sha256: str, dest: Path) -> None:
        self.downloads += 1
        if sha256 not in self.blobs:
            raise AdapterRejected(f"{sha256} missing", kind="artifact_missing", permanent=False)
        dest.write_bytes(self.blobs[sha256])

    async def report_load_failure(self, ref: VersionRef, *, replica: str, reason: str) -> None:
        self.reports.append((ref, reason))
