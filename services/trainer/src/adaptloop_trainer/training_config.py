"""A job's training configuration: the adapter's defaults merged with the request's overrides."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from adaptloop_contracts.base import describe_validation_error
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adaptloop_trainer.errors import JobRejected


class GateThresholds(BaseModel):
    """How much better (or how little worse) a candidate must be than production."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_heldout_improvement: float = Field(default=0.0, ge=-1.0, le=1.0)
    """Required relative drop of held-out loss vs production (0.0: must not be worse)."""
    max_regression_increase: float = Field(default=0.05, ge=0.0, le=10.0)
    """Allowed relative rise of loss on the pinned regression set."""
    min_changed_outputs: float = Field(default=0.25, ge=0.0, le=1.0)
    """Share of behaviour prompts whose greedy output must differ from the base model's."""
    behaviour_prompts: int = Field(default=8, ge=1, le=64)
    behaviour_max_new_tokens: int = Field(default=24, ge=1, le=256)


class WindowPolicy(BaseModel):
    """Which recent examples an incremental retrain learns from (the recency window)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duration_s: float | None = Field(default=None, gt=0)
    """A fixed window: the examples of the last `duration_s` seconds before the job's snapshot time.
    None (default): since the parent version's snapshot ended, or since the drift began when earlier."""
    min_examples: int | None = Field(default=None, ge=1)
    """Fewest usable window examples for an incremental run (None: the service's MIN_EXAMPLES);
    fewer, or an empty train or held-out split, falls back to a full retrain."""
    min_new_examples: int | None = Field(default=None, ge=1, le=1_000_000)
    """A drift-triggered retrain (incremental or full) first waits until this many usable examples arrived
    since the drift began (None: no wait), so it learns the new traffic from more than a handful."""
    max_wait_s: float = Field(default=600.0, ge=0.0, le=86_400.0)
    """The longest such a wait lasts; the retrain then goes ahead with what arrived (recorded in lineage)."""


class ReplayBudget(BaseModel):
    """How many older examples an incremental retrain replays, so it does not forget the past."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_examples: int | None = Field(default=64, ge=0, le=100_000)
    """At most this many older examples (None: no absolute cap)."""
    share: float | None = Field(default=0.5, ge=0.0, le=100.0)
    """At most this multiple of the window's example count (None: no relative cap)."""
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    """Seed of the sample (None: the training seed); the same history and seed give the same sample."""
    include_regression: bool = True
    """Also train on the adapter's pinned regression set."""


class TrainingConfig(BaseModel):
    """LoRA and optimiser hyper-parameters; together with the snapshot and the seed they fix the weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(default=8, ge=1, le=256)
    alpha: int = Field(default=16, ge=1, le=4096)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    learning_rate: float = Field(default=2e-3, gt=0, le=1.0)
    steps: int | None = Field(default=40, ge=1, le=100_000)
    """Optimiser steps; when None, `epochs` passes over the packed training data decide."""
    epochs: float | None = Field(default=None, gt=0, le=1000)
    batch_size: int = Field(default=8, ge=1, le=1024)
    seq_len: int = Field(default=256, ge=16, le=32_768)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    weight_decay: float = Field(default=0.0, ge=0.0, le=1.0)
    warmup_steps: int = Field(default=0, ge=0)
    gate: GateThresholds = Field(default_factory=GateThresholds)
    mode: Literal["incremental", "full"] = "incremental"
    """incremental: warm-start from the production version's weights and train on the recency window,
    a replay sample and the regression set; full: a fresh LoRA on the whole history."""
    incremental_steps: int | None = Field(default=None, ge=1, le=100_000)
    """Optimiser steps of a warm-started run (None: `steps`/`epochs` as for a full run)."""
    window: WindowPolicy = Field(default_factory=WindowPolicy)
    replay: ReplayBudget = Field(default_factory=ReplayBudget)

    @field_validator("target_modules")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not m for m in value):
            raise ValueError("target_modules must name at least one module")
        return tuple(value)

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @property
    def replay_seed(self) -> int:
        return self.seed if self.replay.seed is None else self.replay.seed


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_training_config(*layers: Mapping[str, Any] | None) -> TrainingConfig:
    """Merge layers (service defaults, adapter config, request overrides); invalid -> JobRejected."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer:
            merged = _deep_merge(merged, layer)
    if merged.get("steps") is None and merged.get("epochs") is None and "steps" in merged:
        raise JobRejected("invalid training configuration: one of steps or epochs is required")
    if merged.get("epochs") is not None and "steps" not in merged:
        merged["steps"] = None
    try:
        return TrainingConfig.model_validate(merged)
    except ValidationError as exc:
        raise JobRejected(f"invalid training configuration: {describe_validation_error(exc)}") from exc
