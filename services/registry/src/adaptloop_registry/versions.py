"""Adapter versions: gap-free numbering, idempotent registration, lineage, retirement, load failures."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts import RegistryEvent
from sqlalchemy import Connection, Row, func, insert, select, update

from adaptloop_registry.caller import Caller, iso, utc_now
from adaptloop_registry.catalog import artifact_uri, find_adapter, find_version, lock_adapter
from adaptloop_registry.erasure import flags_of
from adaptloop_registry.errors import Conflict, Invalid
from adaptloop_registry.infra.tables import (
    adapters,
    aliases,
    artifacts,
    base_models,
    evaluations,
    load_failures,
    versions,
)
from adaptloop_registry.models import LoadFailure, VersionSpec
from adaptloop_registry.outbox import audit, enqueue
from adaptloop_registry.promotion import apply_on_registration


def register_version(conn: Connection, adapter_name: str, spec: VersionSpec, *, caller: Caller,
                     base_url: str) -> tuple[dict[str, Any], bool]:
    """Register the next version; returns (answer, created). The same `request_id` returns the first answer."""
    adapter = lock_adapter(conn, adapter_name)
    if spec.request_id is not None:
        existing = conn.execute(select(versions).where(versions.c.adapter_id == adapter.id,
                                                       versions.c.request_id == spec.request_id)).first()
        if existing is not None:
            if (existing.weights_sha256, existing.config_sha256) != (spec.weights_sha256, spec.config_sha256):
                raise Conflict(f"request_id {spec.request_id!r} was already used for version {existing.version} "
                               "with other artifacts")
            return _registration_answer(conn, adapter, existing.version, base_url, moves=[]), False
    base_model = spec.base_model or adapter.base_model
    if not conn.execute(select(base_models.c.id).where(base_models.c.name == base_model)).first():
        raise Invalid(f"base model {base_model!r} is not registered")
    weights_size = _require_artifact(conn, spec.weights_sha256, "weights")
    _require_artifact(conn, spec.config_sha256, "config")
    if spec.parent_version is not None:
        find_version(conn, adapter.id, spec.parent_version, adapter_name=adapter.name)
    number = adapter.next_version
    conn.execute(update(adapters).where(adapters.c.id == adapter.id).values(next_version=number + 1))
    passed = spec.evaluation.passed if spec.evaluation is not None else None
    now = utc_now()
    version_id = conn.execute(insert(versions).values(
        adapter_id=adapter.id, version=number, request_id=spec.request_id,
        weights_sha256=spec.weights_sha256, weights_size=weights_size, config_sha256=spec.config_sha256,
        base_model=base_model, dataset_snapshot_id=spec.dataset_snapshot_id, dataset_sha256=spec.dataset_sha256,
        training_config=spec.training_config, seed=spec.seed, code_revision=spec.code_revision,
        parent_version=spec.parent_version, metrics=spec.metrics,
        status="rejected" if passed is False else "candidate", registered_by=caller.actor, registered_at=now,
    ).returning(versions.c.id)).scalar_one()
    if spec.evaluation is not None:
        conn.execute(insert(evaluations).values(version_id=version_id, **spec.evaluation.model_dump(),
                                                recorded_by=caller.actor, recorded_at=now))
    enqueue(conn, RegistryEvent(
        event_type="adapter.version_registered", model=adapter.name, version=number, base_model=base_model,
        artifact_uri=artifact_uri(base_url, spec.weights_sha256), sha256=spec.weights_sha256, actor=caller.actor,
        details={"config_sha256": spec.config_sha256, "evaluation_passed": passed, "request_id": spec.request_id},
    ), caller=caller)
    audit(conn, caller=caller, action="version.register", target=f"{adapter.name}@{number}",
          details={"request_id": spec.request_id, "weights_sha256": spec.weights_sha256, "reason": spec.reason})
    moves = apply_on_registration(conn, adapter, number, spec.evaluation, caller=caller, base_url=base_url)
    return _registration_answer(conn, adapter, number, base_url, moves=moves), True


def _require_artifact(conn: Connection, sha256: str, kind: str) -> int:
    row = conn.execute(select(artifacts.c.kind, artifacts.c.size).where(artifacts.c.sha256 == sha256)).first()
    if row is None:
        raise Invalid(f"artifact {sha256} has not been uploaded")
    if row.kind != kind:
        raise Invalid(f"artifact {sha256} is {row.kind}, expected {kind}")
    return int(row.size)


def _registration_answer(conn: Connection, adapter: Row[Any], number: int, base_url: str, *,
                         moves: list[dict[str, Any]]) -> dict[str, Any]:
    answer = get_version(conn, adapter.name, number, base_url=base_url)
    answer["aliases"] = {r.alias: r.version for r in conn.execute(
        select(aliases.c.alias, aliases.c.version).where(aliases.c.adapter_id == adapter.id))}
    answer["moves"] = moves
    return answer


def version_views(conn: Connection, adapter_name: str, rows: list[Row[Any]], base_url: str) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    latest_eval: dict[int, Row[Any]] = {}
    failures: dict[int, int] = {}
    if ids:
        for e in conn.execute(select(evaluations).where(evaluations.c.version_id.in_(ids)).order_by(evaluations.c.id)):
            latest_eval[e.version_id] = e
        failures = {f.version_id: f.n for f in conn.execute(
            select(load_failures.c.version_id, func.count().label("n"))
            .where(load_failures.c.version_id.in_(ids)).group_by(load_failures.c.version_id))}
    flags = flags_of(conn, ids)
    out = []
    for r in rows:
        ev = latest_eval.get(r.id)
        out.append({
            "adapter": adapter_name, "version": r.version, "status": r.status,
            "weights_sha256": r.weights_sha256, "weights_size": r.weights_size, "config_sha256": r.config_sha256,
            "sha256": r.weights_sha256,
            "artifact_uri": artifact_uri(base_url, r.weights_sha256),
            "config_uri": artifact_uri(base_url, r.config_sha256),
            "base_model": r.base_model, "dataset_snapshot_id": r.dataset_snapshot_id,
            "dataset_sha256": r.dataset_sha256, "training_config": r.training_config, "seed": r.seed,
            "code_revision": r.code_revision, "parent_version": r.parent_version, "metrics": r.metrics,
            "evaluation": None if ev is None else {"passed": ev.passed, "metrics": ev.metrics, "verdict": ev.verdict,
                                                   "recorded_by": ev.recorded_by, "recorded_at": iso(ev.recorded_at)},
            "lineage": {"base_model": r.base_model, "parent_version": r.parent_version,
                        "dataset_snapshot_id": r.dataset_snapshot_id, "dataset_sha256": r.dataset_sha256,
                        "code_revision": r.code_revision, "seed": r.seed},
            "suites": suite_results(None if ev is None else ev.metrics),
            "served_requests": r.served_requests, "served_tokens": r.served_tokens,
            "load_failures": failures.get(r.id, 0),
            "request_id": r.request_id, "registered_by": r.registered_by, "registered_at": iso(r.registered_at),
            "retired_by": r.retired_by, "retired_at": iso(r.retired_at),
            "erasure_pending": bool(flags.get(r.id)) and r.status != "retired", "erasures": flags.get(r.id, []),
        })
    return out


def suite_results(metrics: Any) -> list[dict[str, Any]]:
    """The gate's per-suite results recorded in an evaluation's metrics (`metrics.suites`), by suite name."""
    suites = metrics.get("suites") if isinstance(metrics, dict) else None
    return [dict(v) for _, v in sorted(suites.items())] if isinstance(suites, dict) else []


def list_versions(conn: Connection, adapter_name: str, *, base_url: str,
                  status: str | None = None) -> list[dict[str, Any]]:
    adapter = find_adapter(conn, adapter_name)
    query = select(versions).where(versions.c.adapter_id == adapter.id)
    if status is not None:
        query = query.where(versions.c.status == status)
    rows = list(conn.execute(query.order_by(versions.c.version)))
    return version_views(conn, adapter_name, rows, base_url)


def get_version(conn: Connection, adapter_name: str, number: int, *, base_url: str) -> dict[str, Any]:
    adapter = find_adapter(conn, adapter_name)
    return version_views(conn, adapter_name, [find_version(conn, adapter.id, number, adapter_name=adapter_name)],
                          base_url)[0]


def retire_version(conn: Connection, adapter_name: str, number: int, *, reason: str, caller: Caller,
                   base_url: str) -> dict[str, Any]:
    """Retire a version no alias points at; retiring twice answers the same."""
    adapter = lock_adapter(conn, adapter_name)
    row = find_version(conn, adapter.id, number, adapter_name=adapter_name)
    if row.status != "retired":
        pointing = [a.alias for a in conn.execute(select(aliases.c.alias).where(
            aliases.c.adapter_id == adapter.id, aliases.c.version == number))]
        if pointing:
            raise Conflict(f"version {number} of {adapter_name!r} is the target of alias(es) {', '.join(pointing)}")
        conn.execute(update(versions).where(versions.c.id == row.id)
                     .values(status="retired", retired_by=caller.actor, retired_at=utc_now()))
        enqueue(conn, RegistryEvent(
            event_type="adapter.version_retired", model=adapter_name, version=number, base_model=row.base_model,
            sha256=row.weights_sha256, actor=caller.actor, reason=reason[:1024],
            details={"config_sha256": row.config_sha256},
        ), caller=caller)
        audit(conn, caller=caller, action="version.retire", target=f"{adapter_name}@{number}",
              details={"reason": reason})
    return get_version(conn, adapter_name, number, base_url=base_url)


def record_load_failure(conn: Connection, adapter_name: str, number: int, report: LoadFailure, *,
                        caller: Caller) -> dict[str, Any]:
    """An inference replica could not load this version: kept for operators and announced."""
    adapter = find_adapter(conn, adapter_name)
    row = find_version(conn, adapter.id, number, adapter_name=adapter_name)
    conn.execute(insert(load_failures).values(version_id=row.id, replica=report.replica, reason=report.reason,
                                              reported_by=caller.actor, reported_at=utc_now()))
    enqueue(conn, RegistryEvent(
        event_type="adapter.load_failed", model=adapter_name, version=number, base_model=row.base_model,
        sha256=row.weights_sha256, actor=caller.actor, reason=report.reason[:1024],
        details={"replica": report.replica, "config_sha256": row.config_sha256},
    ), caller=caller)
    audit(conn, caller=caller, action="version.load_failed", target=f"{adapter_name}@{number}",
          details=report.model_dump())
    return {"adapter": adapter_name, "version": number, "recorded": True}
