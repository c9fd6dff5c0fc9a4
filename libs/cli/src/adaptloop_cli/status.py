"""`adaptloop status`: services, adapters and aliases, pending approvals, drift per signal, open jobs, in one view."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console, Group, RenderableType
from rich.markup import escape

from adaptloop_cli.console import stdout
from adaptloop_cli.context import CliContext, cli_context
from adaptloop_cli.errors import CliError, reports_errors
from adaptloop_cli.governance import costs_section
from adaptloop_cli.tables import (
    adapters_table,
    approvals_table,
    decide_hint,
    drift_rows,
    drift_table,
    jobs_table,
    open_jobs,
    policy_table,
    services_table,
)


def _section(console: Console, name: str, build: Callable[[], RenderableType]) -> CliError | None:
    """Print one section; a failing service costs its section only, reported in place."""
    try:
        console.print(build())
    except CliError as error:
        console.print(f"[bold red]{name}:[/] {escape(error.message)}")
        if error.hint:
            console.print(f"  [yellow]hint:[/] {escape(error.hint)}")
        return error
    console.print()
    return None


def _services(cli: CliContext) -> RenderableType:
    rows = []
    for client in cli.all_services():
        ready, detail = client.ready()
        rows.append((client.service, client.base_url, ready, detail))
    return services_table(rows)


def _drift(cli: CliContext) -> RenderableType:
    state = cli.drift.state()
    rows = drift_rows(state)
    drift: RenderableType = drift_table(rows) if rows else "[dim]Drift: no adapter has been observed yet[/]"
    policy = policy_table(state.policy)
    return Group(drift, policy) if policy is not None else drift


def _approvals(cli: CliContext) -> RenderableType:
    pending = cli.registry.approvals()
    if not pending:
        return "[dim]Pending approvals: none[/]"
    return Group(approvals_table(pending), decide_hint(pending))


def _jobs(cli: CliContext) -> RenderableType:
    jobs = open_jobs(cli.trainer.jobs(limit=200))
    if not jobs:
        return "[dim]Open jobs: none[/]"
    return jobs_table(jobs, title="Open jobs")


@reports_errors
def status(ctx: typer.Context, services: bool = typer.Option(True, help="Show each service's readiness.")) -> None:
    """Show adapters with their aliases and versions, versions waiting for approval, drift state per signal (with
    retrains the budget held back), open training jobs, and what each adapter's retrains cost."""
    cli = cli_context(ctx)
    console = stdout()
    sections: list[tuple[str, Callable[[], RenderableType]]] = []
    if services:
        sections.append(("services", lambda: _services(cli)))
    sections += [
        ("registry", lambda: adapters_table(cli.registry.adapters())),
        ("approvals", lambda: _approvals(cli)),
        ("drift", lambda: _drift(cli)),
        ("trainer", lambda: _jobs(cli)),
        ("costs", lambda: costs_section(cli)),
    ]
    failures = [error for name, build in sections if (error := _section(console, name, build)) is not None]
    if failures:
        raise typer.Exit(max(error.exit_code for error in failures))
