"""Inference settings, read from `ADAPTLOOP_INFERENCE_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from adaptloop_common.auth import parse_scope
from adaptloop_common.settings import ServiceSettings
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """What the replica serves, where it finds models and adapters, and how large its engine is."""

    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_INFERENCE_", extra="ignore")

    port: int = 8000
    replica_id: str = ""
    """Name of this replica in load-failure reports and consumer groups (default: host name and pid)."""

    registry_url: str = "http://127.0.0.1:8002"
    registry_token: SecretStr | None = None
    """Bearer token (role `trainer`) for the replica's reports: adapters it could not load, requests it served."""
    registry_timeout_s: float = 10.0
    serving_report_interval_s: float = Field(default=10.0, ge=0)
    """How often the requests served per adapter version are reported to the registry; 0 disables reporting."""
    serving_report_max_pending: int = Field(default=360, ge=1)
    """Sealed reports kept per adapter while the registry is unreachable; beyond that, counts keep accumulating
    unsealed (nothing is lost, reports just get larger)."""

    models_dir: Path = Path("var/models")
    base_model: str = "tiny-llama"
    """Name of the base model; its weights live in `models_dir/base_model` and clients use it as a model id."""
    adapter_cache_dir: Path = Path("var/inference/adapters")

    max_loras: int = Field(default=4, ge=1)
    """Adapters that may run in one engine batch (old and new version overlap during a swap)."""
    max_lora_rank: int = Field(default=16, ge=1)
    max_cpu_loras: int = Field(default=8, ge=1)
    supported_lora_modules: str = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
    """Module names an adapter may target; anything else is refused before loading."""
    max_model_len: int = 256
    max_num_seqs: int = 16
    dtype: str = "float32"
    gpu_memory_utilization: float = 0.5
    """Used by GPU builds of vLLM only; the CPU build sizes its cache from VLLM_CPU_KVCACHE_SPACE."""
    seed: int = 0

    preload_slots: int = Field(default=2, ge=0)
    """Registered versions of served adapters loaded into the engine ahead of their promotion, so moving an
    alias onto one only switches the routing; the oldest is unloaded when more arrive. They count against
    `max_cpu_loras` with the versions aliases point at; 0 loads a version only when an alias moves onto it."""
    registry_events_fetch_wait_ms: int = Field(default=50, ge=1, le=500)
    """librdkafka's `fetch.wait.max.ms` for the `registry.events` follower (its default is 500 ms)."""

    reconcile_interval_s: float = Field(default=10.0, gt=0)
    unknown_model_refresh_s: float = Field(default=3.0, ge=0)
    """How long a request naming an unknown adapter or version waits for a fresh serving-plan sync
    before its 404 (a version registered a moment ago is servable at once); 0 answers 404 at once."""
    log_queue_size: int = Field(default=10_000, ge=1)
    log_batch_size: int = Field(default=200, ge=1)
    log_delivery_timeout_ms: int = Field(default=30_000, ge=1000)
    """An inference log not acknowledged by the broker within this time is counted as dropped."""

    api_keys: str = ""
    """Accepted client API keys as sha256 hex digests separated by commas; empty means no key needed.
    `digest:support|billing` limits a key to those adapters (their aliases and versions)."""
    default_max_tokens: int = 16
    tool_call_parser: str = ""
    """vLLM's tool-call parser for the base model's call syntax (e.g. `hermes`), as vLLM's `--tool-call-parser`;
    with a chat template that renders `tools` it enables `tool_choice: auto`. Empty: `auto` is a 400."""

    @property
    def base_model_dir(self) -> Path:
        return self.models_dir / self.base_model

    @property
    def supported_modules(self) -> frozenset[str]:
        return frozenset(m.strip() for m in self.supported_lora_modules.split(",") if m.strip())

    @field_validator("api_keys")
    @classmethod
    def _scopes_well_formed(cls, value: str) -> str:
        for entry in filter(None, (e.strip() for e in value.split(","))):
            digest, _, scope = entry.partition(":")
            if len(digest) != 64:
                raise ValueError(f"API key entry {entry[:16]!r}... needs a sha256 hex digest")
            if scope:
                parse_scope(scope.lower())
        return value

    @property
    def api_key_digests(self) -> frozenset[str]:
        return frozenset(d.strip().lower() for d in self.api_keys.split(",") if d.strip())
