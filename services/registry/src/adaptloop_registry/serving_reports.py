"""Serving reports: what each version of an adapter served on a replica, counted once per `report_id`.

A report only adds to `served_requests` (and `served_tokens`); it never moves an alias (verdicts arrive as
rollout decisions).
"""

from __future__ import annotations

from typing import Any

from adaptloop_contracts import ServingReport
from sqlalchemy import Connection, Row, insert, select, update

from adaptloop_registry.caller import Caller, utc_now
from adaptloop_registry.catalog import lock_adapter
from adaptloop_registry.errors import Conflict, NotFound
from adaptloop_registry.infra.tables import serving_reports, versions


def record_serving_report(conn: Connection, report: ServingReport, *, caller: Caller) -> tuple[dict[str, Any], bool]:
    """Add the report's counts to its versions; returns (answer, created). A known `report_id` changes nothing."""
    adapter = lock_adapter(conn, report.adapter)
    counts = {str(int(k)): int(v) for k, v in report.counts.items()}
    existing = conn.execute(select(serving_reports).where(
        serving_reports.c.report_id == str(report.report_id))).first()
    if existing is not None:
        if existing.adapter_id != adapter.id or dict(existing.counts) != counts:
            raise Conflict(f"report_id {report.report_id} was already used for other counts")
        return _answer(conn, adapter, existing, duplicate=True), False
    numbers = sorted(int(k) for k in counts)
    known = {v for (v,) in conn.execute(select(versions.c.version).where(
        versions.c.adapter_id == adapter.id, versions.c.version.in_(numbers)))}
    missing = [n for n in numbers if n not in known]
    if missing:
        raise NotFound(f"adapter {adapter.name!r} has no version {', '.join(map(str, missing))}")
    tokens = {str(int(k)): int(v) for k, v in report.tokens.items()}
    for number, served in counts.items():
        if served or tokens.get(number):
            conn.execute(update(versions).where(versions.c.adapter_id == adapter.id,
                                                versions.c.version == int(number))
                         .values(served_requests=versions.c.served_requests + served,
                                 served_tokens=versions.c.served_tokens + tokens.get(number, 0)))
    conn.execute(insert(serving_reports).values(
        report_id=str(report.report_id), adapter_id=adapter.id, replica=report.replica,
        period_start=report.period_start, period_end=report.period_end, counts=counts, tokens=tokens or None,
        requests=sum(counts.values()), reported_by=caller.actor, received_at=utc_now(),
    ))
    row = conn.execute(select(serving_reports).where(serving_reports.c.report_id == str(report.report_id))).one()
    return _answer(conn, adapter, row, duplicate=False), True


def _answer(conn: Connection, adapter: Row[Any], row: Row[Any], *, duplicate: bool) -> dict[str, Any]:
    counts = {str(k): int(v) for k, v in dict(row.counts).items()}
    totals = {str(r.version): int(r.served_requests) for r in conn.execute(
        select(versions.c.version, versions.c.served_requests).where(
            versions.c.adapter_id == adapter.id, versions.c.version.in_([int(k) for k in counts])))}
    return {"report_id": row.report_id, "adapter": adapter.name, "replica": row.replica, "counts": counts,
            "served_requests": totals, "duplicate": duplicate}
