"""Rich tables for adapters, versions, jobs and drift signals, built from the services' JSON answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text

from adaptloop_cli.clients.trainer import FINAL_STATES

STATE_STYLES = {"succeeded": "green", "failed": "red", "rejected": "red", "cancelled": "yellow",
                "running": "cyan", "queued": "blue"}
VERSION_STYLES = {"production": "bold green", "pending_approval": "bold yellow", "rejected": "red",
                  "retired": "dim"}
PENDING_APPROVAL = "pending_approval"


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _when(value: Any) -> str:
    """An RFC 3339 time shortened to `YYYY-MM-DD HH:MM:SS`."""
    return _cell(value)[:19].replace("T", " ") if value else "-"


def adapters_table(adapters: Iterable[Mapping[str, Any]]) -> Table:
    table = Table(title="Adapters", title_justify="left")
    for column in ("adapter", "base model", "production", "other aliases", "latest version", "promotion"):
        table.add_column(column)
    for adapter in adapters:
        aliases = dict(adapter.get("aliases") or {})
        production = aliases.pop("production", None)
        others = ", ".join(f"{alias}=v{version}" for alias, version in sorted(aliases.items()))
        policy = adapter.get("promotion_policy") or {}
        table.add_row(str(adapter.get("name")), _cell(adapter.get("base_model")),
                      f"v{production}" if production is not None else "-", others or "-",
                      _cell(adapter.get("latest_version")), _cell(policy.get("mode")))
    return table


def versions_table(name: str, versions: Iterable[Mapping[str, Any]], aliases: Mapping[str, int]) -> Table:
    by_version: dict[int, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(int(version), []).append(alias)
    table = Table(title=f"Versions of {name}", title_justify="left")
    for column in ("version", "status", "aliases", "base model", "gate", "metrics", "served", "registered"):
        table.add_column(column)
    for item in versions:
        number = int(item["version"])
        evaluation = item.get("evaluation") or {}
        gate = "-" if not evaluation else ("passed" if evaluation.get("passed") else "failed")
        metrics = item.get("metrics") or evaluation.get("metrics") or {}
        shown = ", ".join(f"{k}={_cell(v)}" for k, v in list(metrics.items())[:3] if not isinstance(v, dict | list))
        status = _cell(item.get("status"))
        table.add_row(f"v{number}", Text(status, style=VERSION_STYLES.get(status, "")),
                      ", ".join(sorted(by_version.get(number, []))) or "-",
                      _cell(item.get("base_model")), gate, shown or "-", _cell(item.get("served_requests")),
                      _when(item.get("registered_at")))
    return table


def decide_hint(pending: Iterable[Mapping[str, Any]]) -> str:
    """The commands that decide the pending versions listed."""
    targets = [f"{item.get('adapter')} {item.get('version')}" for item in pending]
    return (f"[yellow]waiting for approval:[/] {', '.join(targets)}; decide with "
            "`adaptloop approve NAME N --reason ...` or `adaptloop reject NAME N --reason ...`")


def approvals_table(pending: Iterable[Mapping[str, Any]]) -> Table:
    """Versions waiting for an admin: what they would replace and the gate's verdict."""
    table = Table(title="Pending approvals", title_justify="left", title_style="bold yellow")
    for column in ("adapter", "version", "would replace", "gate", "metrics", "registered"):
        table.add_column(column)
    for item in pending:
        evaluation = item.get("evaluation") or {}
        metrics = item.get("metrics") or evaluation.get("metrics") or {}
        shown = ", ".join(f"{k}={_cell(v)}" for k, v in list(metrics.items())[:3] if not isinstance(v, dict | list))
        production = item.get("production_version")
        name, number = item.get("adapter"), item.get("version")
        table.add_row(str(name), f"v{number}", f"v{production}" if production is not None else "nothing",
                      _cell(evaluation.get("verdict") or ("passed" if evaluation.get("passed") else None)),
                      shown or "-", _when(item.get("registered_at")))
    return table


def jobs_table(jobs: Iterable[Mapping[str, Any]], *, title: str = "Jobs") -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("job", "adapter", "kind", "reason", "state", "progress", "candidate", "updated", "error"):
        table.add_column(column)
    for job in jobs:
        state = str(job.get("state"))
        progress = job.get("progress")
        table.add_row(str(job.get("job_id")), _cell(job.get("adapter")), _cell(job.get("kind")),
                      _cell(job.get("reason")), Text(state, style=STATE_STYLES.get(state, "")),
                      f"{float(progress):.0%}" if isinstance(progress, int | float) else "-",
                      f"v{job['candidate_version']}" if job.get("candidate_version") is not None else "-",
                      _when(job.get("updated_at")), _cell(job.get("error")))
    return table


def open_jobs(jobs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [job for job in jobs if job.get("state") not in FINAL_STATES]


@dataclass(frozen=True)
class DriftSignalRow:
    adapter: str
    version: Any
    signal: str
    detector: str | None
    observations: Any
    estimate: Any
    baseline: Any
    state: str
    detections: Any
    last_detection: Any


def _first(stats: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if stats.get(key) is not None:
            return stats[key]
    return None


def _entries(container: Any, *name_keys: str) -> list[tuple[str, Mapping[str, Any]]]:
    """`{name: {...}}` or `[{<name key>: name, ...}]` as (name, mapping) pairs."""
    if isinstance(container, Mapping):
        return [(str(k), v) for k, v in container.items() if isinstance(v, Mapping)]
    if isinstance(container, list):
        return [(str(_first(v, *name_keys) or "?"), v) for v in container if isinstance(v, Mapping)]
    return []


def _signal_state(stats: Mapping[str, Any]) -> str:
    drifting = _first(stats, "drifting", "in_drift", "drift", "alarm")
    if drifting is None and isinstance(stats.get("state"), str):
        return "DRIFT" if stats["state"].lower() in {"drift", "drifting", "alarm"} else str(stats["state"])
    if drifting:
        return "DRIFT"
    if stats.get("warming_up"):
        return "warming up"
    return "stable" if drifting is not None else "watching"


def drift_rows(state: Any) -> list[DriftSignalRow]:
    """Flatten the drift service's `/v1/state` (adapters, each with its detectors per signal) into rows."""
    container = _first(state, "adapters", "models") if isinstance(state, Mapping) else state
    rows = []
    for adapter, entry in _entries(container if container is not None else state, "adapter", "model", "name"):
        signals = _entries(_first(entry, "detectors", "signals") or {}, "signal", "name")
        for signal, stats in signals:
            rows.append(DriftSignalRow(
                adapter=adapter, version=entry.get("adapter_version"), signal=signal,
                detector=_first(stats, "kind", "detector"),
                observations=_first(stats, "observations", "n", "count"),
                estimate=_first(stats, "recent_mean_coded", "estimate", "mean", "value"),
                baseline=_first(stats, "baseline_mean_coded", "baseline"),
                state=_signal_state(stats),
                detections=_first(stats, "alarms", "detections", "drift_count"),
                last_detection=_first(stats, "last_detection_at", "last_alarm_at", "last_detection"),
            ))
    return rows


def drift_table(rows: Iterable[DriftSignalRow]) -> Table:
    table = Table(title="Drift", title_justify="left")
    for column in ("adapter", "version", "signal", "detector", "observations", "recent", "baseline", "state",
                   "alarms", "last alarm"):
        table.add_column(column)
    for row in rows:
        style = {"DRIFT": "bold red", "stable": "green", "watching": "green", "warming up": "yellow"}
        table.add_row(row.adapter, f"v{row.version}" if row.version is not None else "-", row.signal,
                      _cell(row.detector), _cell(row.observations), _cell(row.estimate), _cell(row.baseline),
                      Text(row.state, style=style.get(row.state, "")), _cell(row.detections),
                      _when(row.last_detection) if isinstance(row.last_detection, str) else _cell(row.last_detection))
    return table


def policy_table(policy: Mapping[str, Any]) -> Table | None:
    """The retrain policy's state per adapter (its scalar fields), when the drift service reports one."""
    entries = _entries(policy, "adapter")
    if not entries:
        return None
    table = Table(title="Retrain policy", title_justify="left")
    table.add_column("adapter")
    table.add_column("state")
    for adapter, fields in entries:
        shown = ", ".join(f"{k}={_cell(v)}" for k, v in fields.items() if not isinstance(v, dict | list))
        held = fields.get("held_back")
        if isinstance(held, Mapping) and held.get("reason"):
            shown += f"; held back: {held['reason']}"
        table.add_row(adapter, shown or "-")
    return table


def services_table(readiness: Iterable[tuple[str, str, bool, str]]) -> Table:
    table = Table(title="Services", title_justify="left")
    for column in ("service", "url", "ready", "detail"):
        table.add_column(column)
    for service, url, ready, detail in readiness:
        table.add_row(service, url, Text("yes", style="green") if ready else Text("no", style="red"), detail)
    return table
