"""Evaluation suites: a JSONL artifact pinned by sha256, attached to an adapter under a name, versioned.

Attaching checks the stored file item by item against its metric (nothing is attached half-valid);
the trainer's gate runs the latest version of every suite an adapter has.
"""

from __future__ import annotations

from typing import Any

from adaptloop_contracts.eval_suites import EvalSuiteSpec, SuiteLineError, parse_suite
from sqlalchemy import Connection, Row, func, insert, select

from adaptloop_registry.caller import Caller, iso, utc_now
from adaptloop_registry.catalog import artifact_uri, find_adapter, lock_adapter
from adaptloop_registry.errors import Invalid, NotFound
from adaptloop_registry.infra.artifact_store import ArtifactStore
from adaptloop_registry.infra.tables import artifacts, eval_suites
from adaptloop_registry.outbox import audit


def attach_suite(conn: Connection, adapter_name: str, spec: EvalSuiteSpec, *, store: ArtifactStore, caller: Caller,
                 base_url: str) -> dict[str, Any]:
    """Record the next version of suite `spec.name` on the adapter, after checking every item of its file."""
    adapter = lock_adapter(conn, adapter_name)
    stored = conn.execute(select(artifacts.c.kind).where(artifacts.c.sha256 == spec.sha256)).first()
    if stored is None or store.size(spec.sha256) is None:
        raise Invalid(f"artifact {spec.sha256} has not been uploaded")
    if stored.kind != "dataset":
        raise Invalid(f"artifact {spec.sha256} is {stored.kind}, expected a JSONL suite (dataset)")
    try:
        items = parse_suite(b"".join(store.read(spec.sha256)), spec.metric)
    except SuiteLineError as exc:
        raise Invalid(f"suite {spec.name!r}: {exc}") from None
    latest = conn.execute(select(func.max(eval_suites.c.version)).where(
        eval_suites.c.adapter_id == adapter.id, eval_suites.c.name == spec.name)).scalar()
    number = int(latest or 0) + 1
    conn.execute(insert(eval_suites).values(
        adapter_id=adapter.id, name=spec.name, version=number, sha256=spec.sha256, metric=spec.metric,
        tolerance=spec.tolerance, judge=spec.judge.model_dump() if spec.judge else None,
        max_new_tokens=spec.max_new_tokens, items=len(items), reason=spec.reason, created_by=caller.actor,
        created_at=utc_now()))
    audit(conn, caller=caller, action="eval_suite.attach", target=f"{adapter_name}/{spec.name}@{number}",
          details={"sha256": spec.sha256, "metric": spec.metric, "tolerance": spec.tolerance, "items": len(items),
                   "reason": spec.reason})
    return suite_versions(conn, adapter_name, spec.name, base_url=base_url)[-1]


def _view(adapter_name: str, row: Row[Any], base_url: str) -> dict[str, Any]:
    return {"adapter": adapter_name, "name": row.name, "version": row.version, "sha256": row.sha256,
            "metric": row.metric, "tolerance": row.tolerance, "judge": row.judge,
            "max_new_tokens": row.max_new_tokens, "items": row.items,
            "artifact_uri": artifact_uri(base_url, row.sha256), "reason": row.reason,
            "created_by": row.created_by, "created_at": iso(row.created_at)}


def attached_suites(conn: Connection, adapter_name: str, *, base_url: str) -> list[dict[str, Any]]:
    """The latest version of every suite on the adapter, by name: what the gate runs."""
    adapter = find_adapter(conn, adapter_name)
    latest = (select(eval_suites.c.name, func.max(eval_suites.c.version).label("version"))
              .where(eval_suites.c.adapter_id == adapter.id).group_by(eval_suites.c.name).subquery())
    rows = conn.execute(select(eval_suites).join(latest, (eval_suites.c.name == latest.c.name)
                                                 & (eval_suites.c.version == latest.c.version))
                        .where(eval_suites.c.adapter_id == adapter.id).order_by(eval_suites.c.name))
    return [_view(adapter_name, r, base_url) for r in rows]


def suite_versions(conn: Connection, adapter_name: str, name: str, *, base_url: str) -> list[dict[str, Any]]:
    adapter = find_adapter(conn, adapter_name)
    rows = list(conn.execute(select(eval_suites).where(eval_suites.c.adapter_id == adapter.id,
                                                       eval_suites.c.name == name).order_by(eval_suites.c.version)))
    if not rows:
        raise NotFound(f"adapter {adapter_name!r} has no evaluation suite {name!r}")
    return [_view(adapter_name, r, base_url) for r in rows]
