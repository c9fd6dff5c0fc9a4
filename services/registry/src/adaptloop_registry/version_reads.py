"""Adapter versions as answered: one version's view (hashes, artifact URIs, lineage, latest evaluation and its
suite results, serving counts, load failures, erasure flags), an adapter's versions, one version by number."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, func, select

from adaptloop_registry.caller import iso
from adaptloop_registry.catalog import artifact_uri, find_adapter, find_version
from adaptloop_registry.erasure import flags_of
from adaptloop_registry.infra.tables import evaluations, load_failures, versions


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
    return [version_view(adapter_name, r, latest_eval.get(r.id), failures.get(r.id, 0), flags.get(r.id, []), base_url)
            for r in rows]


def version_view(adapter_name: str, r: Any, ev: Any, load_failure_count: int, erasures: list[dict[str, Any]],
                 base_url: str) -> dict[str, Any]:
    """One version as answered: `r` has the `adapter_versions` columns, `ev` the latest evaluation's (or None)."""
    return {
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
        "load_failures": load_failure_count,
        "request_id": r.request_id, "registered_by": r.registered_by, "registered_at": iso(r.registered_at),
        "retired_by": r.retired_by, "retired_at": iso(r.retired_at),
        "erasure_pending": bool(erasures) and r.status != "retired", "erasures": erasures,
    }


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
