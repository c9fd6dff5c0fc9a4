"""Rich tables for adapters, versions, jobs and drift signals, rendered from the services' typed answers
(the contract models of adaptloop_contracts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from adaptloop_contracts.drift_api import DetectorState, DriftState
from adaptloop_contracts.registry_answers import AdapterRecord, VersionRecord
from adaptloop_contracts.registry_api import PendingApproval
from adaptloop_contracts.trainer_api import JobRecord
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


def adapters_table(adapters: Iterable[AdapterRecord]) -> Table:
    table = Table(title="Adapters", title_justify="left")
    for column in ("adapter", "base model", "production", "other aliases", "latest version", "promotion"):
        table.add_column(column)
    for adapter in adapters:
        aliases = dict(adapter.aliases)
        production = aliases.pop("production", None)
        others = ", ".join(f"{alias}=v{version}" for alias, version in sorted(aliases.items()))
        table.add_row(adapter.name, _cell(adapter.base_model), f"v{production}" if production is not None else "-",
                      others or "-", _cell(adapter.latest_version), _cell(adapter.promotion_policy.mode))
    return table


def _metrics_shown(metrics: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_cell(v)}" for k, v in list(metrics.items())[:3] if not isinstance(v, dict | list))


def versions_table(name: str, versions: Iterable[VersionRecord], aliases: Mapping[str, int]) -> Table:
    by_version: dict[int, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(int(version), []).append(alias)
    table = Table(title=f"Versions of {name}", title_justify="left")
    for column in ("version", "status", "aliases", "base model", "gate", "metrics", "served", "registered"):
        table.add_column(column)
    for item in versions:
        evaluation = item.evaluation
        gate = "-" if evaluation is None else ("passed" if evaluation.passed else "failed")
        metrics = item.metrics or (evaluation.metrics if evaluation is not None else {})
        table.add_row(f"v{item.version}", Text(item.status, style=VERSION_STYLES.get(item.status, "")),
                      ", ".join(sorted(by_version.get(item.version, []))) or "-",
                      _cell(item.base_model), gate, _metrics_shown(metrics) or "-", _cell(item.served_requests),
                      _when(item.registered_at))
    return table


class _Decidable(Protocol):
    adapter: str
    version: int


def decide_hint(pending: Iterable[_Decidable]) -> str:
    """The commands that decide the pending versions listed."""
    targets = [f"{item.adapter} {item.version}" for item in pending]
    return (f"[yellow]waiting for approval:[/] {', '.join(targets)}; decide with "
            "`adaptloop approve NAME N --reason ...` or `adaptloop reject NAME N --reason ...`")


def approvals_table(pending: Iterable[PendingApproval]) -> Table:
    """Versions waiting for an admin: what they would replace and the gate's verdict."""
    table = Table(title="Pending approvals", title_justify="left", title_style="bold yellow")
    for column in ("adapter", "version", "would replace", "gate", "metrics", "registered"):
        table.add_column(column)
    for item in pending:
        evaluation = item.evaluation or {}
        metrics = item.metrics or evaluation.get("metrics") or {}
        production = item.production_version
        table.add_row(item.adapter, f"v{item.version}", f"v{production}" if production is not None else "nothing",
                      _cell(evaluation.get("verdict") or ("passed" if evaluation.get("passed") else None)),
                      _metrics_shown(metrics) or "-", _when(item.registered_at))
    return table


def jobs_table(jobs: Iterable[JobRecord], *, title: str = "Jobs") -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("job", "adapter", "kind", "reason", "state", "progress", "candidate", "updated", "error"):
        table.add_column(column)
    for job in jobs:
        table.add_row(job.job_id, _cell(job.adapter), _cell(job.kind), _cell(job.reason),
                      Text(job.state, style=STATE_STYLES.get(job.state, "")), f"{float(job.progress):.0%}",
                      f"v{job.candidate_version}" if job.candidate_version is not None else "-",
                      _when(job.updated_at), _cell(job.error))
    return table


def open_jobs(jobs: Iterable[JobRecord]) -> list[JobRecord]:
    return [job for job in jobs if job.state not in FINAL_STATES]


@dataclass(frozen=True)
class DriftSignalRow:
    adapter: str
    version: int | None
    signal: str
    detector: DetectorState


def _signal_state(detector: DetectorState) -> str:
    return "warming up" if detector.warming_up else "watching"


def drift_rows(state: DriftState) -> list[DriftSignalRow]:
    """The drift service's `/v1/state` as one row per adapter version and signal."""
    return [DriftSignalRow(adapter=version.adapter, version=version.adapter_version, signal=signal, detector=detector)
            for version in state.adapters for signal, detector in version.detectors.items()]


def drift_table(rows: Iterable[DriftSignalRow]) -> Table:
    table = Table(title="Drift", title_justify="left")
    for column in ("adapter", "version", "signal", "detector", "observations", "recent", "baseline", "state",
                   "alarms"):
        table.add_column(column)
    style = {"watching": "green", "warming up": "yellow"}
    for row in rows:
        detector = row.detector
        state = _signal_state(detector)
        table.add_row(row.adapter, f"v{row.version}" if row.version is not None else "-", row.signal,
                      _cell(detector.kind), _cell(detector.observations), _cell(detector.recent_mean_coded),
                      _cell(detector.baseline_mean_coded), Text(state, style=style.get(state, "")),
                      _cell(detector.alarms))
    return table


def policy_table(policy: Mapping[str, Mapping[str, Any]]) -> Table | None:
    """The retrain policy's state per adapter (its scalar fields), when the drift service reports one."""
    if not policy:
        return None
    table = Table(title="Retrain policy", title_justify="left")
    table.add_column("adapter")
    table.add_column("state")
    for adapter, fields in sorted(policy.items()):
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
