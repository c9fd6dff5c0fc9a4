"""PostgreSQL side of an erasure: find a subject's rows, delete them leaving tombstones, record the erasure."""

from __future__ import annotations

import uuid
from typing import Any

from adaptloop_contracts import adapter_of
from sqlalchemy import ColumnElement, Connection, Engine, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from adaptloop_ingest.erasure import ErasureMatch, ErasureRequest, snapshot_key
from adaptloop_ingest.infra.tables import erasures, examples, pending_feedback, seen_events


def _example_filter(request: ErasureRequest) -> ColumnElement[bool]:
    if request.tenant is not None:
        return examples.c.tenant == request.tenant
    ids = list(request.event_ids or [])
    return or_(examples.c.event_id.in_(ids), examples.c.feedback_event_id.in_(ids))


class PostgresErasureStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _pending(self, conn: Connection, request: ErasureRequest, log_ids: list[uuid.UUID],
                 adapters: frozenset[str] | None) -> list[uuid.UUID]:
        ids = list(request.event_ids or [])
        cond = or_(pending_feedback.c.inference_event_id.in_(log_ids + ids), pending_feedback.c.event_id.in_(ids))
        rows = conn.execute(select(pending_feedback.c.event_id, pending_feedback.c.model).where(cond)).all()
        return [r.event_id for r in rows if adapters is None or adapter_of(r.model) in adapters]

    def _match(self, conn: Connection, request: ErasureRequest, adapters: frozenset[str] | None,
               *, lock: bool) -> ErasureMatch:
        query = select(examples.c.example_id, examples.c.adapter, examples.c.event_id, examples.c.prompt,
                       examples.c.completion, examples.c.correction, examples.c.score).where(_example_filter(request))
        if adapters is not None:
            query = query.where(examples.c.adapter.in_(sorted(adapters)))
        rows = conn.execute(query.with_for_update() if lock else query).all()
        match = ErasureMatch(example_ids=[r.example_id for r in rows], adapters={r.adapter for r in rows})
        match.keys = {k for r in rows if (k := snapshot_key(r.prompt, r.completion, r.correction, r.score))}
        match.pending_feedback = self._pending(conn, request, [r.event_id for r in rows if r.event_id], adapters)
        return match

    def match(self, request: ErasureRequest, *, adapters: frozenset[str] | None) -> ErasureMatch:
        with self._engine.connect() as conn:
            return self._match(conn, request, adapters, lock=False)

    def erase(self, request: ErasureRequest, match: ErasureMatch, *, answer: dict[str, Any],
              actor: str) -> tuple[int, int]:
        """Delete what matches now (rows that arrived since `match` included), keep tombstones, record it."""
        with self._engine.begin() as conn:
            now = self._match(conn, request, frozenset(match.adapters) or None, lock=True) \
                if match.example_ids else ErasureMatch(pending_feedback=match.pending_feedback)
            ids = sorted(set(now.example_ids) | set(match.example_ids))
            tombstones = [{"event_id": r.event_id, "kind": r.kind, "example_id": None} for r in conn.execute(
                select(seen_events.c.event_id, seen_events.c.kind).where(seen_events.c.example_id.in_(ids)))]
            removed = conn.execute(delete(examples).where(examples.c.example_id.in_(ids))).rowcount or 0
            if tombstones:  # the examples' deletion cascaded to their sightings: keep them, unlinked
                conn.execute(pg_insert(seen_events).values(tombstones).on_conflict_do_nothing())
            pending = sorted(set(now.pending_feedback) | set(match.pending_feedback))
            dropped = conn.execute(delete(pending_feedback).where(pending_feedback.c.event_id.in_(pending))).rowcount
            conn.execute(pg_insert(erasures).values(
                erasure_id=request.erasure_id, subject_kind=request.subject_kind,
                subject_sha256=request.subject_sha256, examples_removed=removed, feedback_removed=dropped or 0,
                answer={**answer, "reason": request.reason}, requested_by=actor,
            ).on_conflict_do_nothing())
        return int(removed), int(dropped or 0)

    def previous(self, subject_sha256: str) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(erasures.c.erasure_id, erasures.c.requested_at)
                                .where(erasures.c.subject_sha256 == subject_sha256)
                                .order_by(erasures.c.requested_at)).all()
        return [{"erasure_id": str(r.erasure_id), "requested_at": r.requested_at.isoformat()} for r in rows]

    def history(self, *, limit: int) -> list[dict[str, Any]]:
        """Newest first: every erasure with who asked, when, the subject's digest and what it removed."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(erasures).order_by(erasures.c.requested_at.desc()).limit(limit)).all()
        return [{"erasure_id": str(r.erasure_id), "subject_kind": r.subject_kind, "subject_sha256": r.subject_sha256,
                 "examples_removed": r.examples_removed, "pending_feedback_removed": r.feedback_removed,
                 "requested_by": r.requested_by, "requested_at": r.requested_at.isoformat(),
                 "snapshots": r.answer.get("snapshots", []), "versions": r.answer.get("versions", []),
                 "reason": r.answer.get("reason")} for r in rows]

