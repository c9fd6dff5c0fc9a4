"""A train job's data and starting point, from ingest and the registry: incremental or full.

Incremental: the recency window's examples, a seeded replay sample of older ones and the
regression set, warm-started from the production version's weights. Full: every example of
the requested range on a fresh LoRA. Either way the lineage (mode, fallback reason, parent,
window, replay sample, snapshot) is recorded on the job and on the registered version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adaptloop_contracts import RetrainRequested
from adaptloop_contracts.ingest_api import ExportedExample
from adaptloop_contracts.registry_answers import VersionRecord

from adaptloop_trainer.candidate_evaluation import AdapterFiles
from adaptloop_trainer.incremental import (
    ModeDecision,
    Window,
    choose_window,
    decide_mode,
    plan_training_set,
    window_shortfall,
)
from adaptloop_trainer.lineage import ProductionVersion
from adaptloop_trainer.ports import ExampleSource, Registry
from adaptloop_trainer.snapshot import Example, Snapshot, parse_snapshot, require_enough, snapshot_from_export
from adaptloop_trainer.training_config import TrainingConfig


@dataclass(frozen=True)
class PreparedTraining:
    """What to train on, what to start from (None: a fresh LoRA) and the lineage to record."""

    snapshot: Snapshot
    init_adapter: AdapterFiles | None
    lineage: dict[str, Any]

    @property
    def mode(self) -> str:
        return str(self.lineage["mode"])


def as_utc(value: datetime | None) -> datetime | None:
    """Times without a zone are UTC (as ingest reads them)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str) and value:
        try:
            return as_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def parent_data_until(record: VersionRecord) -> datetime | None:
    """Where the parent's snapshot ended: its recorded window's end, else its registration time."""
    window: Any = record.metrics
    for key in ("lineage", "window"):
        window = window.get(key) if isinstance(window, Mapping) else None
    until = window.get("until") if isinstance(window, Mapping) else None
    return _parse_time(until) or _parse_time(record.registered_at)


def _lazy(rows: Callable[[], Iterable[ExportedExample]]) -> Iterator[ExportedExample]:
    """Starts the export only when (and if) the rows are read."""
    yield from rows()


def _parent_facts(production: ProductionVersion | None) -> dict[str, Any]:
    if production is None:
        return {"parent_version": None, "parent_weights_sha256": None}
    return {"parent_version": production.number,
            "parent_weights_sha256": production.record.weights_sha256}


def prepare_training(
    *, request: RetrainRequested, until: datetime | None, base_model: str, config: TrainingConfig,
    production: ProductionVersion | None, production_files: AdapterFiles | None, examples: ExampleSource,
    regression: Sequence[Example], min_examples: int,
) -> PreparedTraining:
    """Decide the mode, read the examples it needs, and seal them as the job's snapshot."""
    parent_base = production.record.base_model if production is not None else None
    decision = decide_mode(
        config, reason=request.reason, parent_version=production.number if production else None,
        parent_base_model=str(parent_base) if parent_base else None, base_model=base_model,
        parent=production_files,
        parent_erasure_pending=production is not None and production.record.erasure_pending,
    )
    facts = {"requested_mode": config.mode, **_parent_facts(production)}
    if decision.mode == "incremental":
        assert production is not None
        window = choose_window(config, until=until, parent_until=parent_data_until(production.record),
                               drift_started_at=as_utc(request.drift_started_at),
                               requested_since=as_utc(request.since))
        older: Iterable[ExportedExample] = ()
        if window.since is not None:
            since = window.since
            older = _lazy(lambda: examples.export(request.model, since=None, until=since))
        plan = plan_training_set(
            window_rows=examples.export(request.model, since=window.since, until=window.until),
            older_rows=older, regression=regression, config=config, window=window,
        )
        shortfall = window_shortfall(plan, min_examples=config.window.min_examples or min_examples)
        if shortfall is None:
            lineage = {"mode": "incremental", "fallback_reason": None, **facts, **plan.lineage(),
                       "snapshot_sha256": plan.snapshot.sha256, "snapshot_id": plan.snapshot.snapshot_id}
            return PreparedTraining(plan.snapshot, production_files, lineage)
        decision = ModeDecision("full", f"{shortfall} (window {window.basis} since "
                                        f"{window.since.isoformat() if window.since else 'the start'})")
    window = Window(as_utc(request.since), until, "request" if request.since is not None else "history")
    snapshot = snapshot_from_export(examples.export(request.model, since=window.since, until=window.until))
    require_enough(snapshot, min_examples=min_examples)
    lineage = {"mode": "full", "fallback_reason": decision.fallback_reason, **facts, "window": window.as_json(),
               "train_examples": len(snapshot.train), "heldout_examples": len(snapshot.heldout),
               "snapshot_sha256": snapshot.sha256, "snapshot_id": snapshot.snapshot_id}
    return PreparedTraining(snapshot, None, lineage)


def resume_prepared(saved: Mapping[str, Any] | None, snapshot_sha256: str | None, *, registry: Registry,
                    production: ProductionVersion | None,
                    production_files: AdapterFiles | None) -> PreparedTraining | None:
    """A resumed job trains on the snapshot it recorded, unless production moved since (then None)."""
    if not saved or not snapshot_sha256 or saved.get("snapshot_sha256") != snapshot_sha256:
        return None
    if saved.get("parent_weights_sha256") != _parent_facts(production)["parent_weights_sha256"]:
        return None
    if saved.get("mode") == "incremental" and production_files is None:
        return None
    snapshot = parse_snapshot(registry.download_artifact(snapshot_sha256))
    init = production_files if saved.get("mode") == "incremental" else None
    return PreparedTraining(snapshot, init, dict(saved))
