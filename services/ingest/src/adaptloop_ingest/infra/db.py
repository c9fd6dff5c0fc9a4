"""PostgreSQL I/O of the example store: joins, de-duplication and export in SQL transactions (on the engine
of the service's `ServiceDatabase`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, case, delete, func, literal_column, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DataError

from adaptloop_ingest.errors import UnstorableEvent
from adaptloop_ingest.examples import ExampleDraft, Rating, StoredExample, StoreOutcome
from adaptloop_ingest.infra.tables import examples, pending_feedback, seen_events


def _lock_log(conn: Connection, log_event_id: uuid.UUID) -> None:
    """Serialise a log and its ratings across consumers, so neither order leaves a rating orphaned."""
    conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(str(log_event_id), 0))))


def _draft_values(draft: ExampleDraft) -> dict[str, Any]:
    return {
        "example_id": draft.example_id,
        "adapter": draft.adapter,
        "model": draft.model,
        "adapter_version": draft.adapter_version,
        "source": draft.source,
        "event_id": draft.event_id,
        "prompt": draft.prompt,
        "completion": draft.completion,
        "correction": draft.correction,
        "correction_at": draft.occurred_at if draft.correction is not None else None,
        "content_key": draft.content_key,
        "occurred_at": draft.occurred_at,
        "tenant": draft.tenant,
    }


def _apply_rating(conn: Connection, example_id: uuid.UUID, rating: Rating) -> None:
    """The newest rating sets the score; the newest correction (if any) replaces the correction."""
    at = rating.occurred_at
    newest = or_(examples.c.feedback_at.is_(None), examples.c.feedback_at <= at)
    values: dict[str, Any] = {
        "score": case((newest, rating.score), else_=examples.c.score),
        "feedback_event_id": case((newest, rating.event_id), else_=examples.c.feedback_event_id),
        "feedback_at": func.greatest(func.coalesce(examples.c.feedback_at, at), at),
        "feedback_count": examples.c.feedback_count + 1,
        "updated_at": func.now(),
    }
    if rating.correction is not None:
        newer_correction = or_(examples.c.correction_at.is_(None), examples.c.correction_at <= at)
        values["correction"] = case((newer_correction, rating.correction), else_=examples.c.correction)
        values["correction_at"] = func.greatest(func.coalesce(examples.c.correction_at, at), at)
    conn.execute(update(examples).where(examples.c.example_id == example_id).values(**values))


def _first_sighting(conn: Connection, event_id: uuid.UUID, kind: str) -> bool:
    inserted = conn.execute(
        pg_insert(seen_events).values(event_id=event_id, kind=kind).on_conflict_do_nothing()
        .returning(seen_events.c.event_id)
    ).first()
    return inserted is not None


class PostgresExampleStore:
    """The example store on PostgreSQL; every method is one transaction and safe to repeat."""

    def __init__(self, engine: Engine, *, page_size: int = 500) -> None:
        self._engine = engine
        self._page_size = page_size

    def ping(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def add_log(self, draft: ExampleDraft) -> StoreOutcome:
        try:
            return self._add_log(draft)
        except DataError as exc:
            raise UnstorableEvent(f"the database refused log {draft.event_id}: {exc.orig}") from exc

    def add_rating(self, rating: Rating) -> StoreOutcome:
        try:
            return self._add_rating(rating)
        except DataError as exc:
            raise UnstorableEvent(f"the database refused rating {rating.event_id}: {exc.orig}") from exc

    def _add_log(self, draft: ExampleDraft) -> StoreOutcome:
        if draft.event_id is None:
            raise ValueError("a log example needs the event_id of its log")
        with self._engine.begin() as conn:
            _lock_log(conn, draft.event_id)
            if not _first_sighting(conn, draft.event_id, "log"):
                return "duplicate_event"
            row = conn.execute(
                pg_insert(examples).values(**_draft_values(draft)).on_conflict_do_nothing()
                .returning(examples.c.example_id)
            ).first()
            outcome: StoreOutcome = "stored"
            if row is None:
                outcome = "duplicate_content"
                example_id = conn.execute(
                    select(examples.c.example_id).where(
                        examples.c.adapter == draft.adapter, examples.c.content_key == draft.content_key
                    )
                ).scalar_one()
            else:
                example_id = row.example_id
            conn.execute(
                update(seen_events).where(seen_events.c.event_id == draft.event_id).values(example_id=example_id)
            )
            waiting = conn.execute(
                delete(pending_feedback).where(pending_feedback.c.inference_event_id == draft.event_id)
                .returning(*pending_feedback.c)
            ).all()
            for pending in sorted(waiting, key=lambda r: r.occurred_at):
                _apply_rating(conn, example_id, Rating(
                    event_id=pending.event_id, inference_event_id=pending.inference_event_id, model=pending.model,
                    score=pending.score, correction=pending.correction, occurred_at=pending.occurred_at,
                ))
                conn.execute(
                    update(seen_events).where(seen_events.c.event_id == pending.event_id).values(example_id=example_id)
                )
            return outcome

    def _add_rating(self, rating: Rating) -> StoreOutcome:
        with self._engine.begin() as conn:
            _lock_log(conn, rating.inference_event_id)
            if not _first_sighting(conn, rating.event_id, "feedback"):
                return "duplicate_event"
            seen_log = conn.execute(
                select(seen_events.c.example_id).where(
                    seen_events.c.event_id == rating.inference_event_id, seen_events.c.kind == "log"
                )
            ).first()
            if seen_log is not None and seen_log.example_id is None:
                return "not_kept"  # its log was erased (a tombstone): the rating is not kept either
            example_id = None if seen_log is None else seen_log.example_id
            if example_id is None:
                conn.execute(pg_insert(pending_feedback).values(
                    event_id=rating.event_id, inference_event_id=rating.inference_event_id, model=rating.model,
                    score=rating.score, correction=rating.correction, occurred_at=rating.occurred_at,
                ))
                return "pending"
            _apply_rating(conn, example_id, rating)
            conn.execute(
                update(seen_events).where(seen_events.c.event_id == rating.event_id).values(example_id=example_id)
            )
            return "attached"

    def add_curated(self, drafts: list[ExampleDraft]) -> list[tuple[uuid.UUID, bool]]:
        """Store curated examples; a duplicate keeps its id and gains the curated answer if it had no correction."""
        results: list[tuple[uuid.UUID, bool]] = []
        with self._engine.begin() as conn:
            for draft in drafts:
                insert = pg_insert(examples).values(**_draft_values(draft))
                upsert = insert.on_conflict_do_update(
                    index_elements=[examples.c.adapter, examples.c.content_key],
                    set_={
                        "correction": func.coalesce(examples.c.correction, insert.excluded.correction),
                        "correction_at": func.coalesce(examples.c.correction_at, insert.excluded.correction_at),
                        "updated_at": func.now(),
                    },
                ).returning(examples.c.example_id, literal_column("(xmax = 0)").label("inserted"))
                row = conn.execute(upsert).one()
                results.append((row.example_id, bool(row.inserted)))
        return results

    def export(
        self,
        adapter: str,
        *,
        since: datetime | None,
        until: datetime | None,
        limit: int | None,
        only_targets: bool,
    ) -> Iterator[StoredExample]:
        """Examples of `adapter` with `since <= occurred_at < until`, oldest first, read page by page."""
        cols = examples.c
        base = select(
            cols.example_id, cols.adapter, cols.adapter_version, cols.source, cols.prompt, cols.completion,
            cols.correction, cols.score, cols.event_id, cols.occurred_at,
        ).where(cols.adapter == adapter)
        if since is not None:
            base = base.where(cols.occurred_at >= since)
        if until is not None:
            base = base.where(cols.occurred_at < until)
        if only_targets:
            base = base.where(or_(
                cols.correction.is_not(None), (cols.completion.is_not(None) & (cols.score > 0))
            ))
        remaining = limit
        cursor: tuple[datetime, uuid.UUID] | None = None
        while remaining is None or remaining > 0:
            page_size = self._page_size if remaining is None else min(self._page_size, remaining)
            query = base
            if cursor is not None:
                query = query.where(
                    or_(cols.occurred_at > cursor[0], (cols.occurred_at == cursor[0]) & (cols.example_id > cursor[1]))
                )
            query = query.order_by(cols.occurred_at, cols.example_id).limit(page_size)
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
            for row in rows:
                yield StoredExample(**row._asdict())
            if len(rows) < page_size:
                return
            cursor = (rows[-1].occurred_at, rows[-1].example_id)
            if remaining is not None:
                remaining -= len(rows)
