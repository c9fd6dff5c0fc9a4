"""Erasure along lineage: flag the versions trained on erased examples (or on top of such a version).

A flagged version is `erasure_pending` until it is retired; a retrain without the erased data
registers a new, unflagged version. Each new flag is announced (`adapter.erasure_pending`) and audited.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from adaptloop_contracts import RegistryEvent
from sqlalchemy import Connection, Row, insert, select

from adaptloop_registry.caller import Caller, iso, utc_now
from adaptloop_registry.catalog import lock_adapter
from adaptloop_registry.infra.tables import erasure_flags, versions
from adaptloop_registry.models import ErasureFlags
from adaptloop_registry.outbox import audit, enqueue


def _affected(rows: list[Row[Any]], shas: set[str]) -> dict[int, tuple[str, str | None]]:
    """version -> (cause, dataset sha): trained on a listed snapshot, or (transitively) warm-started from such a
    version (a parent is inherited unless the version's metrics say it trained in `full` mode)."""
    flagged: dict[int, tuple[str, str | None]] = {
        r.version: ("dataset", r.dataset_sha256) for r in rows if r.dataset_sha256 in shas}
    grown = True
    while grown:
        grown = False
        for r in rows:
            inherits = (r.metrics or {}).get("training_mode") != "full"
            if r.version not in flagged and r.parent_version in flagged and inherits:
                flagged[r.version] = ("parent", None)
                grown = True
    return flagged


def flag_versions(conn: Connection, body: ErasureFlags, *, caller: Caller) -> dict[str, Any]:
    """Flag every affected version not yet retired; repeating an erasure_id flags nothing twice."""
    by_adapter: dict[str, set[str]] = defaultdict(set)
    for ref in body.snapshots:
        by_adapter[ref.adapter].add(ref.sha256)
    answer: list[dict[str, Any]] = []
    erasure_id = str(body.erasure_id)
    for name in sorted(by_adapter):
        adapter = lock_adapter(conn, name)
        rows = list(conn.execute(select(versions).where(versions.c.adapter_id == adapter.id)
                                 .order_by(versions.c.version)))
        by_number = {r.version: r for r in rows}
        for number, (cause, sha) in sorted(_affected(rows, by_adapter[name]).items()):
            row = by_number[number]
            item = {"adapter": name, "version": number, "status": row.status, "cause": cause}
            answer.append(item)
            if row.status == "retired":
                continue
            seen = conn.execute(select(erasure_flags.c.id).where(
                erasure_flags.c.erasure_id == erasure_id, erasure_flags.c.version_id == row.id)).first()
            if seen is not None:
                continue
            conn.execute(insert(erasure_flags).values(
                erasure_id=erasure_id, version_id=row.id, cause=cause, dataset_sha256=sha, reason=body.reason,
                flagged_by=caller.actor, flagged_at=utc_now()))
            details = {"erasure_id": erasure_id, "cause": cause, "dataset_sha256": sha,
                       "config_sha256": row.config_sha256}
            enqueue(conn, RegistryEvent(
                event_type="adapter.erasure_pending", model=name, version=number, base_model=row.base_model,
                sha256=row.weights_sha256, actor=caller.actor, reason=body.reason[:1024], details=details,
            ), caller=caller)
            audit(conn, caller=caller, action="version.erasure_pending", target=f"{name}@{number}",
                  details={**details, "reason": body.reason})
    return {"erasure_id": erasure_id, "versions": answer}


def flags_of(conn: Connection, version_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The erasure flags of each version id, oldest first."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if version_ids:
        for f in conn.execute(select(erasure_flags).where(erasure_flags.c.version_id.in_(version_ids))
                              .order_by(erasure_flags.c.id)):
            out[f.version_id].append({"erasure_id": f.erasure_id, "cause": f.cause, "reason": f.reason,
                                      "flagged_by": f.flagged_by, "flagged_at": iso(f.flagged_at)})
    return out
