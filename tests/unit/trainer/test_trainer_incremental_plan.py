"""Planning an incremental retrain: window choice, seeded replay sample, training set, mode and fallbacks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from adaptloop_contracts.ingest_api import ExportedExample
from adaptloop_trainer.incremental import (
    AdapterFiles,
    choose_window,
    decide_mode,
    plan_training_set,
    replay_budget,
    select_replay,
    window_shortfall,
)
from adaptloop_trainer.snapshot import Example, example_key, parse_snapshot, snapshot_from_export, split_of
from adaptloop_trainer.training_config import ReplayBudget, resolve_training_config
from trainer_fakes import exported_example

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _rows(prefix: str, n: int) -> list[ExportedExample]:
    return [exported_example(f"{prefix} question {i}?", f"{prefix} answer {i}.", example_id=f"{prefix}-{i}")
            for i in range(n)]


def _lora(rank: int = 8, alpha: float = 16, modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj"),
          ) -> AdapterFiles:
    return AdapterFiles(b"weights", json.dumps({"r": rank, "lora_alpha": alpha,
                                                "target_modules": list(reversed(modules))}).encode())


# -- window ------------------------------------------------------------------------------------

def test_window_starts_at_the_parent_snapshot_end_or_the_drift_start_whichever_is_earlier() -> None:
    config = resolve_training_config({})
    until = T0 + timedelta(hours=5)
    parent, drift = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    assert choose_window(config, until=until, parent_until=parent, drift_started_at=drift).since == parent
    later_parent = choose_window(config, until=until, parent_until=drift, drift_started_at=parent)
    assert (later_parent.since, later_parent.basis) == (parent, "drift_started")
    only_parent = choose_window(config, until=until, parent_until=parent)
    assert (only_parent.since, only_parent.until, only_parent.basis) == (parent, until, "parent_snapshot")
    assert choose_window(config, until=until).basis == "history"


def test_request_since_wins_then_a_fixed_duration() -> None:
    until = T0 + timedelta(hours=5)
    fixed = resolve_training_config({"window": {"duration_s": 3600}})
    window = choose_window(fixed, until=until, parent_until=T0, requested_since=T0 + timedelta(minutes=1))
    assert (window.since, window.basis) == (T0 + timedelta(minutes=1), "request")
    window = choose_window(fixed, until=until, parent_until=T0, drift_started_at=T0)
    assert (window.since, window.basis) == (until - timedelta(hours=1), "duration")
    assert window.as_json() == {"since": "2026-11-01T04:00:00+00:00", "until": "2026-11-01T05:00:00+00:00",
                                "basis": "duration"}


# -- replay ------------------------------------------------------------------------------------

@pytest.mark.parametrize("budget, window, expected", [
    ({"max_examples": 64, "share": 0.5}, 40, 20),
    ({"max_examples": 10, "share": 0.5}, 40, 10),
    ({"max_examples": None, "share": 2.0}, 40, 80),
    ({"max_examples": 30, "share": None}, 40, 30),
    ({"max_examples": None, "share": None}, 40, 0),
    ({"max_examples": 0}, 40, 0),
])
def test_replay_budget_is_the_smaller_cap(budget: dict[str, Any], window: int, expected: int) -> None:
    assert replay_budget(ReplayBudget(**budget), window) == expected


def test_replay_sample_is_fixed_by_the_seed_whatever_the_order_and_bounded() -> None:
    older = _rows("old", 500)
    a = select_replay(older, k=25, seed=3)
    b = select_replay(list(reversed(older)), k=25, seed=3)
    assert a.examples == b.examples and len(a.examples) == 25 and a.candidates == 500
    assert a.keys_sha256 == b.keys_sha256
    other = select_replay(older, k=25, seed=4)
    assert {e.key for e in other.examples} != {e.key for e in a.examples}
    assert all(e.split == "train" for e in a.examples)
    assert select_replay(older, k=1000, seed=3).examples.__len__() == 500


def test_replay_skips_window_keys_and_held_out_prompts_and_reads_nothing_without_budget() -> None:
    older = _rows("old", 50)
    taken = example_key(older[0].prompt, older[0].target or "")
    sample = select_replay(older, k=50, seed=0, exclude_keys=frozenset({taken}),
                           exclude_prompts=frozenset({older[1].prompt}))
    assert len(sample.examples) == 48 and taken not in {e.key for e in sample.examples}

    def exploding() -> Iterator[ExportedExample]:
        raise AssertionError("the history was read although the budget is zero")
        yield exported_example("never", "read")

    assert select_replay(exploding(), k=0, seed=0).examples == ()


# -- training set --------------------------------------------------------------------------------

def test_plan_trains_on_window_replay_and_regression_and_evaluates_the_window_only() -> None:
    config = resolve_training_config({"replay": {"max_examples": 30, "share": 1.0}})
    window = _rows("new", 60)
    regression = [Example(p, a, example_key(p, a), split_of(p)) for p, a in
                  ((f"pinned {i}?", f"pinned answer {i}.") for i in range(5))]
    plan = plan_training_set(window_rows=window, older_rows=_rows("old", 400), regression=regression, config=config)
    assert plan.window_examples == 60 and len(plan.replay.examples) == 30 and plan.regression_examples == 5
    held = {e.prompt for e in plan.heldout}
    assert held and held <= {r.prompt for r in window}
    trained = {e.prompt for e in plan.train}
    assert {e.prompt for e in plan.replay.examples} <= trained and {e.prompt for e in regression} <= trained
    assert len(plan.train) + len(plan.heldout) == 60 + 30 + 5
    again = plan_training_set(window_rows=list(reversed(window)), older_rows=list(reversed(_rows("old", 400))),
                              regression=list(reversed(regression)), config=config)
    assert again.snapshot.content == plan.snapshot.content
    assert parse_snapshot(plan.snapshot.content).train == plan.train
    lineage = plan.lineage()
    assert lineage["replay"]["count"] == 30 and len(lineage["replay"]["example_ids"]) == 30
    assert lineage["regression_examples"] == 5 and lineage["window_examples"]["examples"] == 60


def test_plan_cost_is_bounded_by_window_and_budget_not_history() -> None:
    config = resolve_training_config({"replay": {"max_examples": 300, "share": 0.5}})
    small = plan_training_set(window_rows=_rows("new", 40), older_rows=_rows("old", 40), config=config)
    large = plan_training_set(window_rows=_rows("new", 40), older_rows=_rows("old", 640), config=config)
    assert len(small.train) == len(large.train) and large.replay.candidates == 640
    many = plan_training_set(window_rows=_rows("new", 600), older_rows=_rows("old", 640), config=config)
    assert many.lineage()["replay"]["count"] == 300 and "example_ids" not in many.lineage()["replay"]


def test_regression_is_left_out_on_request_and_never_trained_when_held_out_in_the_window() -> None:
    window = _rows("new", 60)
    held = next(r for r in window if split_of(r.prompt) == "heldout")
    clash = Example(held.prompt, "another answer", example_key(held.prompt, "another answer"), "heldout")
    plan = plan_training_set(window_rows=window, regression=[clash], config=resolve_training_config({}))
    assert plan.regression_examples == 0 and clash.key not in {e.key for e in plan.train}
    off = resolve_training_config({"replay": {"include_regression": False}})
    pinned = Example("pinned?", "yes.", example_key("pinned?", "yes."), "heldout")
    assert plan_training_set(window_rows=window, regression=[pinned], config=off).regression_examples == 0


def test_the_offline_mapping_form_plans_and_snapshots_like_the_export_lines() -> None:
    config = resolve_training_config({"replay": {"max_examples": 30, "share": 1.0}})
    window, older = _rows("new", 60), _rows("old", 200)
    unusable = [exported_example("no answer?", None), exported_example("", "an answer without a prompt.")]
    as_answer = [{"prompt": r.prompt, "answer": r.target, "example_id": r.example_id} for r in window]
    as_target = [{"prompt": r.prompt, "target": r.target, "example_id": r.example_id} for r in older]
    skipped = [{"prompt": "no answer?", "target": None, "answer": "ignored: the target is named."},
               {"prompt": 7, "answer": "a prompt that is not text."}]
    by_model = plan_training_set(window_rows=[*window, *unusable], older_rows=older, config=config)
    by_mapping = plan_training_set(window_rows=[*as_answer, *skipped], older_rows=iter(as_target), config=config)
    assert by_model.window_examples == 60 and len(by_model.replay.examples) == 30
    assert by_mapping.snapshot.content == by_model.snapshot.content
    assert by_mapping.lineage() == by_model.lineage()
    mixed = [*as_answer[:30], *window[30:], *skipped]
    assert snapshot_from_export(mixed).content == snapshot_from_export(window).content


def test_a_small_window_says_why() -> None:
    config = resolve_training_config({})
    plan = plan_training_set(window_rows=_rows("new", 5), config=config)
    assert window_shortfall(plan, min_examples=16) == "the window has 5 usable examples, need at least 16"
    assert window_shortfall(plan_training_set(window_rows=_rows("new", 60), config=config), min_examples=16) is None


# -- mode --------------------------------------------------------------------------------------

def _decide(config_layer: dict[str, Any] | None = None, **kw: Any) -> Any:
    args: dict[str, Any] = {"reason": "drift", "parent_version": 3, "parent_base_model": "tiny-llama",
                            "base_model": "tiny-llama", "parent": _lora()}
    args.update(kw)
    return decide_mode(resolve_training_config(config_layer or {}), **args)


def test_incremental_when_the_parent_fits() -> None:
    assert _decide().mode == "incremental" and _decide().fallback_reason is None


@pytest.mark.parametrize("layer, kw, reason", [
    ({}, {"parent_version": None, "parent": None}, "no parent"),
    ({}, {"parent_base_model": "tiny-llama-s1"}, "is on base model 'tiny-llama-s1'"),
    ({}, {"reason": "base_model_upgrade"}, "base-model upgrade"),
    ({"rank": 4}, {}, "rank 8 differs from the job's 4"),
    ({"alpha": 32}, {}, "lora_alpha 16 differs"),
    ({"target_modules": ["q_proj", "v_proj"]}, {}, "target modules"),
    ({}, {"parent": AdapterFiles(b"w", b"not json")}, "unreadable"),
    ({}, {"parent_erasure_pending": True}, "erasure_pending"),
])
def test_falls_back_to_full_with_the_reason(layer: dict[str, Any], kw: dict[str, Any], reason: str) -> None:
    decision = _decide(layer, **kw)
    assert decision.mode == "full" and reason in (decision.fallback_reason or "")


def test_configured_full_is_not_a_fallback() -> None:
    decision = _decide({"mode": "full"})
    assert decision.mode == "full" and decision.fallback_reason is None
