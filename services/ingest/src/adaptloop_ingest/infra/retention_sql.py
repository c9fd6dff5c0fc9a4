"""PostgreSQL side of the retention sweep: batched deletes by age, each batch its own transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Column, Engine, Table, delete, func, select

from adaptloop_ingest.infra.tables import examples, pending_feedback, seen_events

BATCH_ROWS = 5_000


class PostgresRetentionStore:
    def __init__(self, engine: Engine, *, batch_rows: int = BATCH_ROWS) -> None:
        self._engine = engine
        self._batch_rows = batch_rows

    def _expire(self, table: Table, key: Column, age: Column, older_than: timedelta, *conditions: object) -> int:
        removed = 0
        while True:
            doomed = (select(key).where(age < func.now() - older_than, *conditions)  # type: ignore[arg-type]
                      .limit(self._batch_rows).scalar_subquery())
            with self._engine.begin() as conn:
                count = conn.execute(delete(table).where(key.in_(doomed))).rowcount
            removed += count
            if count < self._batch_rows:
                return removed

    def expire_examples(self, older_than: timedelta, *, adapters: list[str] | None, exclude: list[str]) -> int:
        conditions = []
        if adapters is not None:
            conditions.append(examples.c.adapter.in_(adapters))
        if exclude:
            conditions.append(examples.c.adapter.not_in(exclude))
        return self._expire(examples, examples.c.example_id, examples.c.stored_at, older_than, *conditions)

    def expire_pending_feedback(self, older_than: timedelta) -> int:
        return self._expire(pending_feedback, pending_feedback.c.event_id, pending_feedback.c.received_at,
                            older_than)

    def expire_seen_events(self, older_than: timedelta) -> int:
        return self._expire(seen_events, seen_events.c.event_id, seen_events.c.seen_at, older_than)
