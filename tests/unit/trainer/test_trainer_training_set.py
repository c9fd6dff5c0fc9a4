"""A job's training set from the example store: the mode, the window it reads, the lineage it records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from adaptloop_contracts import RetrainRequested
from adaptloop_trainer.candidate_evaluation import AdapterFiles
from adaptloop_trainer.errors import JobRejected
from adaptloop_trainer.lineage import ProductionVersion
from adaptloop_trainer.training_config import resolve_training_config
from adaptloop_trainer.training_set import parent_data_until, prepare_training, resume_prepared
from trainer_fakes import FakeExamples, FakeRegistry, version_record

T0 = datetime(2026, 11, 1, tzinfo=UTC)
PARENT_END = T0 + timedelta(hours=2)
NOW = T0 + timedelta(hours=4)
LORA = {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
FILES = AdapterFiles(b"parent-weights", json.dumps(LORA).encode())


def _rows(prefix: str, n: int, start: datetime) -> list[dict[str, Any]]:
    return [{"example_id": f"{prefix}-{i}", "prompt": f"{prefix} question {i}?", "target": f"{prefix} answer {i}.",
             "occurred_at": start + timedelta(seconds=i)} for i in range(n)]


def _production() -> ProductionVersion:
    return ProductionVersion(1, version_record(
        "support", 1, base_model="tiny-llama", weights_sha256="f" * 64,
        registered_at=(PARENT_END + timedelta(minutes=5)).isoformat(),
        metrics={"lineage": {"window": {"until": PARENT_END.isoformat()}}}))


def _prepare(examples: FakeExamples, *, production: ProductionVersion | None = None,
             files: AdapterFiles | None = None, layer: dict[str, Any] | None = None, **request: Any) -> Any:
    return prepare_training(
        request=RetrainRequested(model="support", reason="drift", requested_by="test", **request),
        until=NOW, base_model="tiny-llama", config=resolve_training_config(layer or {}), production=production,
        production_files=files, examples=examples, regression=[], min_examples=16,
    )


@pytest.fixture
def history() -> FakeExamples:
    return FakeExamples({"support": _rows("old", 300, T0) + _rows("new", 60, PARENT_END + timedelta(minutes=1))})


def test_no_parent_trains_the_whole_history_in_full(history: FakeExamples) -> None:
    prepared = _prepare(history)
    assert prepared.mode == "full" and prepared.init_adapter is None
    assert prepared.lineage["fallback_reason"] == "no parent: the adapter has no production version"
    assert len(prepared.snapshot.examples) == 360 and history.exports == [("support", None, NOW)]
    assert prepared.lineage["snapshot_sha256"] == prepared.snapshot.sha256
    assert prepared.lineage["window"] == {"since": None, "until": NOW.isoformat(), "basis": "history"}


def test_incremental_reads_the_window_and_a_bounded_sample_and_warm_starts_from_production(
        history: FakeExamples) -> None:
    prepared = _prepare(history, production=_production(), files=FILES)
    assert prepared.mode == "incremental" and prepared.init_adapter == FILES
    assert history.exports == [("support", PARENT_END, NOW), ("support", None, PARENT_END)]
    lineage = prepared.lineage
    assert lineage["parent_version"] == 1 and lineage["parent_weights_sha256"] == "f" * 64
    assert lineage["window"]["basis"] == "parent_snapshot" and lineage["window_examples"]["examples"] == 60
    assert lineage["replay"]["count"] == 30 and lineage["replay"]["candidates"] == 300
    assert len(prepared.snapshot.examples) == 90
    assert {e.prompt.split()[0] for e in prepared.snapshot.heldout} == {"new"}


def test_a_drift_that_began_before_the_parent_snapshot_ended_widens_the_window(history: FakeExamples) -> None:
    history.rows["support"] += _rows("late", 10, PARENT_END - timedelta(seconds=60))
    began = PARENT_END - timedelta(seconds=100)
    prepared = _prepare(history, production=_production(), files=FILES, drift_started_at=began)
    assert prepared.lineage["window"]["basis"] == "drift_started"
    assert prepared.lineage["window"]["since"] == began.isoformat()
    assert prepared.lineage["window_examples"]["examples"] == 70
    later = _prepare(history, production=_production(), files=FILES, drift_started_at=NOW)
    assert later.lineage["window"]["basis"] == "parent_snapshot" and later.lineage["window_examples"]["examples"] == 60


def test_too_small_a_window_falls_back_to_full_and_says_so() -> None:
    examples = FakeExamples({"support": _rows("old", 100, T0) + _rows("new", 4, PARENT_END)})
    prepared = _prepare(examples, production=_production(), files=FILES)
    assert prepared.mode == "full" and prepared.init_adapter is None
    assert prepared.lineage["fallback_reason"].startswith("the window has 4 usable examples, need at least 16")
    assert len(prepared.snapshot.examples) == 104


def test_configured_full_and_too_little_data_rejects_as_before(history: FakeExamples) -> None:
    with pytest.raises(JobRejected, match="too little data"):
        _prepare(FakeExamples({"support": _rows("x", 3, T0)}), production=_production(), files=FILES,
                 layer={"mode": "full"})


def test_the_parent_snapshot_end_comes_from_its_lineage_else_its_registration() -> None:
    assert parent_data_until(_production().record) == PARENT_END
    assert parent_data_until(version_record("support", 1, registered_at="2026-11-01T01:00:00+00:00")) == (
        T0 + timedelta(hours=1))
    assert parent_data_until(version_record("support", 1)) is None


def test_a_resumed_job_reuses_its_snapshot_unless_production_moved(history: FakeExamples) -> None:
    prepared = _prepare(history, production=_production(), files=FILES)
    registry = FakeRegistry()
    registry.upload_artifact(prepared.snapshot.content, "snapshot.jsonl")
    again = resume_prepared(prepared.lineage, prepared.snapshot.sha256, registry=registry,
                            production=_production(), production_files=FILES)
    assert again is not None and again.snapshot == prepared.snapshot and again.init_adapter == FILES
    moved = ProductionVersion(2, _production().record.model_copy(update={"version": 2, "weights_sha256": "e" * 64}))
    assert resume_prepared(prepared.lineage, prepared.snapshot.sha256, registry=registry, production=moved,
                           production_files=FILES) is None
    assert resume_prepared(None, prepared.snapshot.sha256, registry=registry, production=_production(),
                           production_files=FILES) is None
