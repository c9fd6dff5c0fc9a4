"""The figures the demo states: detection delay, time to adapter by phase, quality before and after."""

from __future__ import annotations

from statistics import mean
from typing import Any

from adaptloop_contracts.registry_answers import VersionRecord

from adaptloop_demo.scenario import NEW_DOMAIN, OLD_DOMAIN, DemoResult
from adaptloop_demo.timeline import Milestone, events_between, milestones

PHASES = ("detection", "training", "evaluation", "registration", "swap")


def _find(record: VersionRecord | None, key: str) -> float | None:
    """A figure the trainer recorded with the version: in its metrics, or its evaluation's."""
    if record is None:
        return None
    for where in (record.metrics or {}, record.evaluation.metrics if record.evaluation is not None else {}):
        if isinstance(where.get(key), (int, float)):
            return float(where[key])
    return None


def summarise(result: DemoResult) -> dict[str, Any]:
    steps = milestones(
        result.events,
        shift_at=result.shift_at,
        first_new_at=result.first_new_version_at,
        new_version=result.new_version,
        adapter=result.params.adapter,
    )
    at = {m.name: m.at for m in steps}
    new_domain = [s for s in result.served if s.domain == NEW_DOMAIN]
    pre_shift = [s.score for s in result.served if s.domain == OLD_DOMAIN and s.version == result.old_version]
    before = [s.score for s in new_domain if s.version == result.old_version]
    after = [s.score for s in new_domain if result.new_version and s.version == result.new_version]
    detected_at = at.get("drift detected")
    record = result.new_version_record
    summary: dict[str, Any] = {
        "old_version": result.old_version,
        "new_version": result.new_version,
        "requests": len(result.served),
        "failed_requests": len(result.failures),
        "detection_delay_events": (
            events_between(result.served, result.shift_at, at["drift detected"]) if "drift detected" in at else None
        ),
        "events_from_detection_to_new_version": (
            events_between(result.served, detected_at, result.first_new_version_at)
            if detected_at is not None and result.first_new_version_at is not None else None
        ),
        "rating_pre_shift": round(mean(pre_shift), 4) if pre_shift else None,
        "rating_before_swap": round(mean(before), 4) if before else None,
        "rating_after_swap": round(mean(after), 4) if after else None,
        "heldout_token_loss_before": _find(record, "heldout_token_loss_baseline"),
        "heldout_token_loss_after": _find(record, "heldout_token_loss"),
        "milestones": [
            {"name": m.name, "seconds_after_shift": round(m.at - result.shift_at, 2), "detail": m.detail} for m in steps
        ],
    }
    summary["time_to_adapter_s"], summary["shares"] = _phases(at, result)
    summary["training_mode"] = _lineage_mode(record)
    return summary


def recovery_ratio(shifted: float | None, new_version: float | None, oracle: float | None) -> float | None:
    """(new version - shifted) / (oracle - shifted) on the rating: the share of the reachable gain won back."""
    if shifted is None or new_version is None or oracle is None or oracle <= shifted:
        return None
    return round((new_version - shifted) / (oracle - shifted), 4)


def add_levels(summary: dict[str, Any], measured: dict[str, Any] | None) -> dict[str, Any]:
    """The held-out levels (one evaluator, prompts nobody sent) and the recovery ratio they give."""
    ratings = (measured or {}).get("ratings") or {}
    old, new = ratings.get(f"v{summary.get('old_version')}", {}), ratings.get(f"v{summary.get('new_version')}", {})
    oracle = ratings.get("oracle", {})

    def level(source: dict[str, Any], domain: str, field: str = "rating") -> float | None:
        value = (source.get(domain) or {}).get(field)
        return float(value) if isinstance(value, (int, float)) else None

    levels = {
        "pre_shift": level(old, OLD_DOMAIN),
        "shifted": level(old, NEW_DOMAIN),
        "new_version": level(new, NEW_DOMAIN),
        "oracle": level(oracle, NEW_DOMAIN),
        "new_version_on_old_domain": level(new, OLD_DOMAIN),
    }
    losses = {"shifted": level(old, NEW_DOMAIN, "token_loss"), "new_version": level(new, NEW_DOMAIN, "token_loss"),
              "oracle": level(oracle, NEW_DOMAIN, "token_loss")}
    summary["levels"] = levels
    summary["token_losses"] = losses
    summary["evaluation_prompts"] = (measured or {}).get("evaluation_prompts")
    summary["oracle_cached"] = (measured or {}).get("oracle_cached")
    summary["recovery_ratio_vs_oracle"] = recovery_ratio(levels["shifted"], levels["new_version"], levels["oracle"])
    shifted_loss, new_loss, oracle_loss = losses["shifted"], losses["new_version"], losses["oracle"]
    summary["loss_ratio_vs_oracle"] = (
        round((shifted_loss - new_loss) / (shifted_loss - oracle_loss), 4)
        if None not in (shifted_loss, new_loss, oracle_loss) and shifted_loss != oracle_loss else None
    )
    return summary


LOOP_FIGURES = (
    ("requests served", "requests"),
    ("failed requests", "failed_requests"),
    ("drift detected, events after the shift", "detection_delay_events"),
    ("new version serving, events after detection", "events_from_detection_to_new_version"),
    ("time to adapter (s)", "time_to_adapter_s"),
    ("training mode of the new version", "training_mode"),
    ("gate's held-out token loss: production / new version", "gate_losses_text"),
    ("answer token loss on unseen prompts: shifted / new version / oracle", "token_losses_text"),
)
"""The loop's figures as the console and the report show them: (label, key of `figure_values`)."""


def cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def figure_values(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with the combined figures the tables show (levels flattened, losses side by side)."""
    losses = summary.get("token_losses") or {}
    return {
        **summary,
        **{f"level_{k}": v for k, v in (summary.get("levels") or {}).items()},
        "token_losses_text": " / ".join(cell(losses.get(k)) for k in ("shifted", "new_version", "oracle")),
        "gate_losses_text": " / ".join(cell(summary.get(k)) for k in ("heldout_token_loss_before",
                                                                     "heldout_token_loss_after")),
        "live_ratings": " / ".join(cell(summary.get(k)) for k in ("rating_pre_shift", "rating_before_swap",
                                                                  "rating_after_swap")),
    }


def _lineage_mode(record: VersionRecord | None) -> str | None:
    """How the new version was trained (incremental or full), from its registered training facts."""
    if record is None:
        return None
    for where in (record.lineage.model_extra or {}, record.metrics or {}, record.training_config or {}):
        if isinstance(where.get("mode"), str):
            return str(where["mode"])
    return None


def _phases(at: dict[str, float], result: DemoResult) -> tuple[float | None, dict[str, float]]:
    """Split shift -> first request on the new version into the loop's phases.

    Detection and swap come from the milestones; the job's own span (training started ->
    version registered) is split by the timings the trainer reports for the job.
    """
    end = at.get("first request on the new version")
    if end is None:
        return None, {}
    total = end - result.shift_at
    t_detect = at.get("retrain requested", at.get("drift detected", result.shift_at))
    t_train_start = at.get("training started", t_detect)
    t_train_end = at.get("training finished", at.get("version registered", t_train_start))
    t_registered = max(at.get("promoted to production", at.get("version registered", t_train_end)), t_train_end)
    job_seconds = t_train_end - t_train_start
    timings = _job_timings(result)
    evaluation = min(timings.get("evaluation_s", 0.0), job_seconds)
    registration = min(timings.get("registration_s", 0.0), job_seconds - evaluation)
    spans = {
        "detection": t_train_start - result.shift_at,
        "training": job_seconds - evaluation - registration,
        "evaluation": evaluation,
        "registration": registration + (t_registered - t_train_end),
        "swap": end - t_registered,
    }
    return round(total, 2), {k: round(max(0.0, v) / total, 4) if total > 0 else 0.0 for k, v in spans.items()}


def _job_timings(result: DemoResult) -> dict[str, float]:
    """`metrics.timings` of the job that built the new version (its succeeded event or the version record)."""
    sources = [e.get("metrics") for e in result.events.get("training.events", []) if e.get("state") == "succeeded"]
    if result.new_version_record is not None:
        sources.append(result.new_version_record.metrics)
    for metrics in reversed(sources):
        timings = metrics.get("timings") if isinstance(metrics, dict) else None
        if isinstance(timings, dict):
            return {k: float(v) for k, v in timings.items() if isinstance(v, (int, float))}
    return {}


def milestone_rows(summary: dict[str, Any]) -> list[Milestone]:
    return [Milestone(m["name"], m["seconds_after_shift"], m["detail"]) for m in summary["milestones"]]
