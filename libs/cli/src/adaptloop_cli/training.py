"""`adaptloop train | jobs | upgrade-base`: request training through the trainer API and follow it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from adaptloop_contracts.trainer_api import JobRecord
from rich.table import Table

from adaptloop_cli.console import stdout
from adaptloop_cli.context import CliContext, cli_context
from adaptloop_cli.errors import CliError, reports_errors
from adaptloop_cli.follow import follow_job, print_outcome
from adaptloop_cli.settings import default_var_dir
from adaptloop_cli.tables import jobs_table, open_jobs

FollowOption = typer.Option(False, "--follow", "-f",
                            help="Show progress until the job ends; exit 3 unless it succeeds.")
TimeoutOption = typer.Option(None, "--timeout", help="With --follow: give up waiting after this many seconds.")


def _parse_config(items: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs; each VALUE parsed as JSON when it is JSON (numbers, booleans), else kept as text."""
    config: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--set {item!r} is not KEY=VALUE", hint="e.g. --set max_steps=50 --set learning_rate=2e-4")
        try:
            config[key] = json.loads(value)
        except ValueError:
            config[key] = value
    return config


def _submit(cli: CliContext, job: JobRecord, *, follow: bool, timeout_s: float | None) -> JobRecord:
    console = stdout()
    job_id = job.job_id
    console.print(f"requested job [bold]{job_id}[/] (request {job.request_id}, state {job.state})", highlight=False)
    if not follow:
        console.print("follow it with `adaptloop jobs` or rerun with --follow", highlight=False)
        return job
    final = follow_job(cli.trainer, job_id, console=console, poll_interval_s=cli.settings.poll_interval_s,
                       sleep=cli.sleep, timeout_s=timeout_s)
    return final


@reports_errors
def train(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Adapter to retrain."),
    follow: bool = FollowOption,
    base_model: str | None = typer.Option(None, "--base-model", help="Train on this base model instead."),
    settings: list[str] = typer.Option([], "--set", help="Training config override KEY=VALUE (repeatable)."),
    timeout: float | None = TimeoutOption,
) -> None:
    """Request a manual retrain of NAME (trainer `POST /v1/jobs`), optionally following it to the end."""
    cli = cli_context(ctx)
    job = cli.trainer.request_job(name, reason="manual", base_model=base_model,
                                  training_config=_parse_config(settings))
    final = _submit(cli, job, follow=follow, timeout_s=timeout)
    if follow:
        print_outcome(final, stdout())


@reports_errors
def jobs(
    ctx: typer.Context,
    adapter: str | None = typer.Option(None, "--adapter", help="Only this adapter's jobs."),
    only_open: bool = typer.Option(False, "--open", help="Only queued and running jobs."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="At most this many, newest first."),
) -> None:
    """List training and upgrade jobs."""
    found = cli_context(ctx).trainer.jobs(adapter=adapter, limit=limit)
    if only_open:
        found = open_jobs(found)
    if not found:
        stdout().print("no jobs")
        return
    stdout().print(jobs_table(found, title="Open jobs" if only_open else "Jobs"))


def _ensure_base_registered(cli: CliContext, old: str, new: str, models_dir: Path) -> None:
    """Register NEW from `<models_dir>/NEW/manifest.json` when the registry does not know it yet."""
    registry = cli.registry
    if registry.base_model(new) is not None:
        return
    manifest_path = models_dir / new / "manifest.json"
    if not manifest_path.is_file():
        raise CliError(f"base model {new!r} is not registered and {manifest_path} does not exist",
                       hint="place the model under the models directory with its manifest.json "
                            "(python -m adaptloop_scenarios.model_manifest DIR), or register it: POST /v1/base-models")
    try:
        manifest = json.loads(manifest_path.read_text())
        weights_sha256 = str(manifest["weights_sha256"])
    except (ValueError, KeyError, OSError) as exc:
        raise CliError(f"{manifest_path} has no weights_sha256 ({exc.__class__.__name__})") from exc
    successor_of = old if registry.base_model(old) is not None else None
    registry.register_base_model(name=new, version=str(manifest.get("version") or weights_sha256[:12]),
                                 location=str(models_dir / new), weights_sha256=weights_sha256,
                                 successor_of=successor_of)
    stdout().print(f"registered base model {new} (weights {weights_sha256[:12]}…)", highlight=False)


def _report_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"Upgrade {report.get('old_base', '?')} -> {report.get('new_base', '?')}", title_justify="left")
    for column in ("adapter", "carried", "gate", "from", "candidate", "held-out loss before", "after", "note"):
        table.add_column(column)
    for name, item in sorted((report.get("adapters") or {}).items()):
        before, after = item.get("before") or {}, item.get("after") or {}
        table.add_row(name, "yes" if item.get("carried") else "no",
                      "-" if "passed" not in item else ("passed" if item["passed"] else "failed"),
                      f"v{item['from_version']}" if item.get("from_version") is not None else "-",
                      f"v{item['candidate_version']}" if item.get("candidate_version") is not None else "-",
                      str(before.get("heldout_loss", "-")), str(after.get("heldout_loss", "-")),
                      str(item.get("reason") or item.get("verdict") or ""))
    return table


@reports_errors
def upgrade_base(
    ctx: typer.Context,
    old: str = typer.Argument(..., metavar="OLD",
                              help="The current base model (every adapter on it is carried), or one adapter."),
    new: str = typer.Argument(..., metavar="NEW", help="The new base model."),
    follow: bool = FollowOption,
    register: bool = typer.Option(True, help="Register NEW from <models-dir>/NEW/manifest.json if needed."),
    models_dir: Path | None = typer.Option(None, "--models-dir", help="Where base models live (default var/models)."),
    timeout: float | None = TimeoutOption,
) -> None:
    """Carry adapters from base model OLD to NEW: retrain each from its recorded lineage, gate, register."""
    cli = cli_context(ctx)
    if register:
        _ensure_base_registered(cli, old, new, models_dir or cli.settings.models_dir or default_var_dir() / "models")
    job = cli.trainer.request_job(old, reason="base_model_upgrade", base_model=new)
    final = _submit(cli, job, follow=follow, timeout_s=timeout)
    if not follow:
        return
    try:
        report = cli.trainer.upgrade_report(final.job_id).report or final.report
    except CliError:
        report = final.report
    if report:
        stdout().print(_report_table(report))
    print_outcome(final, stdout())
