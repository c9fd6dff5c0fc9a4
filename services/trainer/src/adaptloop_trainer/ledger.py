"""The cost ledger: what each retrain of an adapter cost and what it gained, from the recorded jobs.

Per job (and so per candidate version): training, preparation and evaluation seconds, examples and
tokens trained, and the quality gained per the gate's figures (`heldout_improvement`, the relative
held-out loss reduction against the baseline). Requests and tokens served come from the registry's versions
(added up from the inference replicas' serving reports).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adaptloop_trainer.jobs import Job

DAY = timedelta(days=1)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def job_costs(job: Job) -> dict[str, Any]:
    metrics = job.metrics or {}
    recorded = metrics.get("timings")
    timings = recorded if isinstance(recorded, dict) else {}
    gate = (job.evaluation or {}).get("metrics") or {}
    return {
        "job_id": str(job.job_id), "version": job.candidate_version, "state": job.state.value,
        "reason": job.reason, "mode": metrics.get("training_mode"),
        "requested_at": job.created_at.isoformat(), "finished_at": job.updated_at.isoformat() if job.is_final else None,
        "training_seconds": _number(timings.get("train_loop_s")),
        "preparation_seconds": _number(timings.get("prepare_s")),
        "evaluation_seconds": _number(timings.get("evaluation_s")),
        "examples_trained": _number(metrics.get("train_examples")),
        "tokens_trained": _number(metrics.get("tokens_trained")),
        "gate_passed": (job.evaluation or {}).get("passed"),
        "quality_gained": _number(gate.get("heldout_improvement", metrics.get("heldout_improvement"))),
    }


def _sum(rows: list[dict[str, Any]], key: str) -> float:
    return round(sum(r[key] or 0.0 for r in rows), 3)


def adapter_costs(adapter: str, jobs: list[Job], *, served: dict[int, tuple[int, int]] | None = None,
                  now: datetime | None = None) -> dict[str, Any]:
    """The ledger of one adapter: a row per job (newest first), totals, and the last 24 hours.

    `served` maps a version to its (requests, tokens) served.
    """
    now = now or datetime.now(UTC)
    served = served or {}
    ordered = sorted(jobs, key=lambda j: j.created_at, reverse=True)
    rows = [job_costs(j) for j in ordered]
    for row in rows:
        requests, tokens = served.get(row["version"], (None, None)) if row["version"] is not None else (None, None)
        row["requests_served"], row["tokens_served"] = requests, tokens
    recent = [r for r, j in zip(rows, ordered, strict=True) if now - j.created_at <= DAY]
    gains = [r["quality_gained"] for r in rows if r["quality_gained"] is not None]
    return {
        "adapter": adapter,
        "totals": {
            "retrains": len(rows), "succeeded": sum(1 for r in rows if r["state"] == "succeeded"),
            "training_seconds": _sum(rows, "training_seconds"), "evaluation_seconds": _sum(rows, "evaluation_seconds"),
            "examples_trained": _sum(rows, "examples_trained"), "tokens_trained": _sum(rows, "tokens_trained"),
            "requests_served": sum(r for r, _ in served.values()),
            "tokens_served": sum(t for _, t in served.values()),
            "mean_quality_gained": round(sum(gains) / len(gains), 6) if gains else None,
        },
        "last_24h": {"retrains": len(recent), "training_seconds": _sum(recent, "training_seconds")},
        "versions": rows,
    }
