"""PostgreSQL job store in the trainer's own schema (the engine of its `ServiceDatabase`, migrated at start)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from adaptloop_contracts import RetrainRequested, TrainingState
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine

from adaptloop_trainer.infra.tables import jobs, regression_examples
from adaptloop_trainer.jobs import Job, job_kind_of
from adaptloop_trainer.snapshot import Example, split_of


def _now() -> datetime:
    return datetime.now(UTC)


def _job(row: Any) -> Job:
    m = row._mapping
    return Job(
        job_id=m["job_id"], request_id=m["request_id"], adapter=m["adapter"], kind=m["kind"], reason=m["reason"],
        state=TrainingState(m["state"]), request=m["request"], created_at=m["created_at"],
        updated_at=m["updated_at"], progress=m["progress"], base_model=m["base_model"],
        training_config=m["training_config"], snapshot_id=m["snapshot_id"], snapshot_sha256=m["snapshot_sha256"],
        candidate_version=m["candidate_version"], metrics=m["metrics"] or {}, evaluation=m["evaluation"],
        report=m["report"], error=m["error"], traceparent=m["traceparent"],
        cancel_requested=m["cancel_requested"], attempts=m["attempts"],
    )


class SqlJobStore:
    """`JobStore` on PostgreSQL; the unique request_id makes creation idempotent across processes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def ping(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def create_or_get(self, request: RetrainRequested, *, traceparent: str | None) -> tuple[Job, bool]:
        now = _now()
        values = {
            "job_id": uuid.uuid4(), "request_id": request.event_id, "adapter": request.model,
            "kind": job_kind_of(request), "reason": request.reason, "state": TrainingState.QUEUED.value,
            "progress": 0.0, "base_model": request.base_model, "request": request.model_dump(mode="json"),
            "metrics": {}, "traceparent": traceparent, "created_at": now, "updated_at": now,
        }
        with self._engine.begin() as conn:
            inserted = conn.execute(
                pg_insert(jobs).values(**values).on_conflict_do_nothing(index_elements=["request_id"])
                .returning(jobs.c.job_id)
            ).first()
            row = conn.execute(sa.select(jobs).where(jobs.c.request_id == request.event_id)).one()
        return _job(row), inserted is not None

    def get(self, job_id: uuid.UUID) -> Job | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).first()
        return _job(row) if row else None

    def list_jobs(self, *, adapter: str | None = None, limit: int = 100) -> list[Job]:
        query = sa.select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)
        if adapter:
            query = query.where(jobs.c.adapter == adapter)
        with self._engine.connect() as conn:
            return [_job(r) for r in conn.execute(query)]

    def unfinished(self) -> list[Job]:
        query = sa.select(jobs).where(jobs.c.state.in_(["queued", "running"])).order_by(jobs.c.created_at)
        with self._engine.connect() as conn:
            return [_job(r) for r in conn.execute(query)]

    def update(self, job_id: uuid.UUID, **fields: Any) -> Job:
        if isinstance(fields.get("state"), TrainingState):
            fields["state"] = fields["state"].value
        fields["updated_at"] = _now()
        with self._engine.begin() as conn:
            row = conn.execute(sa.update(jobs).where(jobs.c.job_id == job_id).values(**fields).returning(jobs)).one()
        return _job(row)

    def request_cancel(self, job_id: uuid.UUID) -> Job | None:
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.update(jobs).where(jobs.c.job_id == job_id)
                .values(cancel_requested=True, updated_at=_now()).returning(jobs)
            ).first()
        return _job(row) if row else None

    def regression_set(self, adapter: str) -> list[Example]:
        query = sa.select(regression_examples).where(regression_examples.c.adapter == adapter) \
            .order_by(regression_examples.c.key)
        with self._engine.connect() as conn:
            return [Example(r.prompt, r.answer, r.key, split_of(r.prompt)) for r in conn.execute(query)]

    def pin_regression(self, adapter: str, examples: Sequence[Example], *, snapshot_sha256: str) -> int:
        if not examples:
            return 0
        rows = [{"adapter": adapter, "key": e.key, "prompt": e.prompt, "answer": e.answer,
                 "snapshot_sha256": snapshot_sha256, "pinned_at": _now()} for e in examples]
        with self._engine.begin() as conn:
            result = conn.execute(pg_insert(regression_examples).values(rows).on_conflict_do_nothing())
        return int(result.rowcount or 0)

    def forget_regression(self, adapters: Sequence[str], keys: Sequence[str]) -> int:
        """Remove pinned regression examples by content key (an erasure); returns how many went."""
        if not adapters or not keys:
            return 0
        with self._engine.begin() as conn:
            result = conn.execute(sa.delete(regression_examples).where(
                regression_examples.c.adapter.in_(list(adapters)), regression_examples.c.key.in_(list(keys))))
        return int(result.rowcount or 0)
