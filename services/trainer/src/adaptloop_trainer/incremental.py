"""Incremental retraining, planned without any service: which window, which replay sample, which mode.

An incremental retrain warm-starts from the weights of the version that serves and learns from
the recency window, a bounded seeded sample of older examples (replay) and the pinned
regression set, so its cost is bounded by the window and the replay budget, not the history.
These functions are pure: the trainer's job feeds them from ingest and the registry, and a
benchmark can feed them lists (see `plan_training_set` and `training_loop.train_lora`).
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from adaptloop_contracts.ingest_api import ExportedExample

from adaptloop_trainer.candidate_evaluation import AdapterFiles
from adaptloop_trainer.snapshot import (
    Example,
    ExportRow,
    Snapshot,
    example_key,
    examples_by_key,
    exported_examples,
    row_pair,
    seal_snapshot,
)
from adaptloop_trainer.training_config import ReplayBudget, TrainingConfig

__all__ = [
    "AdapterFiles", "ModeDecision", "ReplaySample", "TrainingPlan", "Window", "choose_window", "decide_mode",
    "incompatibility", "plan_training_set", "replay_budget", "select_replay",
]

WindowBasis = Literal["request", "duration", "parent_snapshot", "drift_started", "history"]
REPLAY_IDS_LISTED = 200
"""Up to this many replayed examples, lineage lists their ids; above, their keys' sha256 and count."""


@dataclass(frozen=True)
class Window:
    """`since <= occurred_at < until` (since None: from the first example)."""

    since: datetime | None
    until: datetime | None
    basis: WindowBasis

    def as_json(self) -> dict[str, Any]:
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None, "basis": self.basis}


def choose_window(
    config: TrainingConfig, *, until: datetime | None, parent_until: datetime | None = None,
    drift_started_at: datetime | None = None, requested_since: datetime | None = None,
) -> Window:
    """The request's `since` wins, then a fixed `window.duration_s`, then the earlier of the
    parent's snapshot end and the drift's start; with none of these, the whole history."""
    if requested_since is not None:
        return Window(requested_since, until, "request")
    if config.window.duration_s is not None and until is not None:
        return Window(until - timedelta(seconds=config.window.duration_s), until, "duration")
    if parent_until is not None and (drift_started_at is None or parent_until <= drift_started_at):
        return Window(parent_until, until, "parent_snapshot")
    if drift_started_at is not None:
        return Window(drift_started_at, until, "drift_started")
    return Window(None, until, "history")


def replay_budget(budget: ReplayBudget, window_examples: int) -> int:
    """Replayed examples allowed: the smaller of `max_examples` and `share` x the window's size."""
    caps = []
    if budget.max_examples is not None:
        caps.append(budget.max_examples)
    if budget.share is not None:
        caps.append(int(budget.share * window_examples))
    return max(0, min(caps)) if caps else 0


def _replay_score(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\x1f{key}".encode()).digest(), "big")


@dataclass(frozen=True)
class ReplaySample:
    """The older examples replayed: a uniform sample fixed by the seed, whatever the rows' order."""

    examples: tuple[Example, ...]
    seed: int
    budget: int
    candidates: int
    """Older examples read to choose the sample (reading ids costs; training on them does not)."""

    @property
    def keys_sha256(self) -> str:
        return hashlib.sha256("\n".join(sorted(e.key for e in self.examples)).encode()).hexdigest()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": len(self.examples), "budget": self.budget, "seed": self.seed,
                               "candidates": self.candidates, "keys_sha256": self.keys_sha256}
        if len(self.examples) <= REPLAY_IDS_LISTED:
            out["example_ids"] = sorted(e.example_id or e.key for e in self.examples)
        return out


def select_replay(rows: Iterable[ExportedExample], *, k: int, seed: int,
                  exclude_keys: frozenset[str] = frozenset(),
                  exclude_prompts: frozenset[str] = frozenset()) -> ReplaySample:
    """The `k` rows with the smallest seeded hash of their key, streamed in O(k) memory (k <= 0:
    `rows` is not read at all).

    Replayed examples are trained on (split `train`); rows whose key is already in the window, or
    whose prompt is held out there, are skipped so nothing trained is also evaluated.
    """
    heap: list[tuple[int, str]] = []  # (-score, key): the largest kept score on top
    kept: dict[str, Example] = {}
    seen = 0
    if k <= 0:
        return ReplaySample((), seed, 0, 0)
    for row in rows:
        pair = row_pair(row)
        if pair is None:
            continue
        prompt, answer = pair
        key = example_key(prompt, answer)
        if key in exclude_keys or prompt in exclude_prompts or key in kept:
            continue
        seen += 1
        score = _replay_score(seed, key)
        if len(heap) < k:
            heapq.heappush(heap, (-score, key))
        elif score < -heap[0][0]:
            _, dropped = heapq.heapreplace(heap, (-score, key))
            kept.pop(dropped, None)
        else:
            continue
        kept[key] = Example(prompt, answer, key, "train", row.example_id)
    return ReplaySample(tuple(sorted(kept.values(), key=lambda e: e.key)), seed, k, seen)


@dataclass(frozen=True)
class TrainingPlan:
    """What an incremental run trains and evaluates on, sealed as one snapshot."""

    snapshot: Snapshot
    window_examples: int
    replay: ReplaySample
    regression_examples: int
    window: Window | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def train(self) -> list[Example]:
        return self.snapshot.train

    @property
    def heldout(self) -> list[Example]:
        return self.snapshot.heldout

    def lineage(self) -> dict[str, Any]:
        window_split = {"examples": self.window_examples,
                        "heldout": len(self.snapshot.heldout)}
        out: dict[str, Any] = {"window_examples": window_split, "replay": self.replay.as_json(),
                               "regression_examples": self.regression_examples,
                               "train_examples": len(self.snapshot.train)}
        if self.window is not None:
            out["window"] = self.window.as_json()
        return out


def plan_training_set(
    *, window_rows: Iterable[ExportRow], older_rows: Iterable[ExportRow] = (),
    regression: Sequence[Example] = (), config: TrainingConfig, window: Window | None = None,
) -> TrainingPlan:
    """Window examples (split by prompt, as in every snapshot) + a seeded replay sample of the older
    rows + the regression set (both train only, when `config.replay.include_regression`).

    Rows are ingest's export lines, or their offline mapping form (`prompt` with `target` or `answer`,
    optionally `example_id`; see `snapshot.as_exported_example`). Only the window's held-out split is
    evaluated. `older_rows` is streamed: memory and training data stay bounded by the replay budget
    however long the history is.
    """
    by_key = examples_by_key(window_rows)
    window_count = len(by_key)
    heldout_prompts = frozenset(e.prompt for e in by_key.values() if e.split == "heldout")
    pinned = 0
    if config.replay.include_regression:
        for example in regression:
            if example.prompt in heldout_prompts:
                continue
            previous = by_key.get(example.key)
            pinned += 1
            by_key[example.key] = Example(example.prompt, example.answer, example.key, "train",
                                          previous.example_id if previous else example.example_id)
    replay = select_replay(exported_examples(older_rows), k=replay_budget(config.replay, window_count),
                           seed=config.replay_seed, exclude_keys=frozenset(by_key), exclude_prompts=heldout_prompts)
    for example in replay.examples:
        by_key[example.key] = example
    return TrainingPlan(seal_snapshot(by_key.values()), window_count, replay, pinned, window)


@dataclass(frozen=True)
class ModeDecision:
    """The mode a job runs in, and why it is not the configured one when it falls back."""

    mode: Literal["incremental", "full"]
    fallback_reason: str | None = None


def _lora_facts(parent: AdapterFiles) -> dict[str, Any]:
    try:
        data = json.loads(parent.config)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def incompatibility(parent: AdapterFiles, config: TrainingConfig) -> str | None:
    """Why the parent's LoRA cannot be the starting point of `config`'s (rank, alpha, modules), or None."""
    facts = _lora_facts(parent)
    if not facts:
        return "the parent's adapter_config.json is unreadable"
    if facts.get("r") != config.rank:
        return f"the parent's rank {facts.get('r')} differs from the job's {config.rank}"
    if float(facts.get("lora_alpha") or 0) != float(config.alpha):
        return f"the parent's lora_alpha {facts.get('lora_alpha')} differs from the job's {config.alpha}"
    modules = facts.get("target_modules")
    parent_modules = sorted(modules) if isinstance(modules, list) else [str(modules)]
    if parent_modules != sorted(config.target_modules):
        return (f"the parent's target modules {','.join(parent_modules)} differ from the job's "
                f"{','.join(sorted(config.target_modules))}")
    return None


def decide_mode(
    config: TrainingConfig, *, reason: str, parent_version: int | None, parent_base_model: str | None,
    base_model: str, parent: AdapterFiles | None, parent_erasure_pending: bool = False,
) -> ModeDecision:
    """incremental when configured and possible; otherwise full, with the reason when it falls back."""
    if config.mode == "full":
        return ModeDecision("full")
    if reason == "base_model_upgrade":
        return ModeDecision("full", "a base-model upgrade retrains in full")
    if parent_version is None:
        return ModeDecision("full", "no parent: the adapter has no production version")
    if parent_erasure_pending:
        return ModeDecision("full", f"the parent v{parent_version} is erasure_pending: its weights and replay "
                                    "sample hold erased examples")
    if parent_base_model is not None and parent_base_model != base_model:
        return ModeDecision("full", f"the parent v{parent_version} is on base model {parent_base_model!r}, "
                                    f"the job on {base_model!r}")
    if parent is None:
        return ModeDecision("full", f"the parent v{parent_version} has no downloadable weights")
    why = incompatibility(parent, config)
    if why is not None:
        return ModeDecision("full", why)
    return ModeDecision("incremental")


def window_shortfall(plan: TrainingPlan, *, min_examples: int) -> str | None:
    """Why the window is too small for an incremental run, or None."""
    heldout = len(plan.snapshot.heldout)
    window_train = plan.window_examples - heldout
    if plan.window_examples < min_examples:
        return f"the window has {plan.window_examples} usable examples, need at least {min_examples}"
    if heldout == 0 or window_train <= 0:
        return f"the window's split gave {window_train} train and {heldout} held-out examples"
    return None
