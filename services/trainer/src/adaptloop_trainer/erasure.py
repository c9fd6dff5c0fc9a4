"""Erasure lineage: which dataset snapshots (and so jobs and versions) held erased examples.

Ingest's `POST /v1/erasures` asks this before it deletes the examples; the pinned regression
examples with the erased content are removed here at once.
"""

from __future__ import annotations

from typing import Any

from adaptloop_contracts.trainer_api import LineageQuery

from adaptloop_trainer.errors import JobRejected, UpstreamError
from adaptloop_trainer.jobs import JobStore
from adaptloop_trainer.ports import Registry
from adaptloop_trainer.snapshot import parse_snapshot


def erasure_lineage(query: LineageQuery, *, store: JobStore, registry: Registry, max_jobs: int = 10_000,
                    ) -> dict[str, Any]:
    """The snapshots of `query.adapters`' jobs that hold an erased example, with their jobs and versions."""
    ids, keys = {str(i) for i in query.example_ids}, set(query.keys)
    found: dict[str, dict[str, Any]] = {}
    clean: set[str] = set()
    unreadable: list[dict[str, str]] = []
    for adapter in query.adapters:
        for job in store.list_jobs(adapter=adapter, limit=max_jobs):
            sha = job.snapshot_sha256
            if not sha or sha in clean:
                continue
            if sha not in found:
                try:
                    snapshot = parse_snapshot(registry.download_artifact(sha))
                except (JobRejected, UpstreamError) as exc:
                    if int(getattr(exc, "status", 400)) >= 500 or type(exc) is UpstreamError:
                        raise  # the registry is unreachable: answer 503, decide nothing
                    unreadable.append({"adapter": adapter, "sha256": sha, "error": str(exc)[:300]})
                    clean.add(sha)
                    continue
                hits = sum(1 for e in snapshot.examples if e.example_id in ids or e.key in keys)
                if not hits:
                    clean.add(sha)
                    continue
                found[sha] = {"adapter": adapter, "snapshot_id": snapshot.snapshot_id, "sha256": sha,
                              "examples": hits, "jobs": [], "candidate_versions": []}
            found[sha]["jobs"].append(str(job.job_id))
            if job.candidate_version is not None:
                found[sha]["candidate_versions"].append(job.candidate_version)
    removed = store.forget_regression(query.adapters, sorted(keys))
    return {"erasure_id": str(query.erasure_id), "snapshots": list(found.values()),
            "unreadable_snapshots": unreadable, "regression_examples_removed": removed}
