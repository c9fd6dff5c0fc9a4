"""`adaptloop erase | retire | costs | tokens`: data governance and what adapters cost."""

from __future__ import annotations

from typing import Any

import typer
from adaptloop_contracts.trainer_api import AdapterCosts
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table

from adaptloop_cli.console import stdout
from adaptloop_cli.context import CliContext, cli_context
from adaptloop_cli.errors import CliError, reports_errors

NameArgument = typer.Argument(..., metavar="NAME", help="Adapter name.")
tokens_app = typer.Typer(help="Bearer tokens scoped to adapters.", no_args_is_help=True)


def _number(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}" if abs(value) >= 10 else f"{value:.3g}{unit}"
    return f"{value:,}{unit}"


def costs_table(ledger: AdapterCosts, *, rows: int = 10) -> RenderableType:
    """The cost ledger of one adapter: totals, the last 24 hours, then one row per retrain (newest first)."""
    totals, day = ledger.totals, ledger.last_24h
    summary = (f"[bold]{escape(ledger.adapter)}[/]: {totals.retrains} retrains, "
               f"{_number(totals.training_seconds, ' s')} training, "
               f"{_number(totals.evaluation_seconds, ' s')} evaluation, "
               f"{_number(totals.tokens_trained)} tokens trained, "
               f"{_number(totals.requests_served)} requests served, mean quality gained "
               f"{_number(totals.mean_quality_gained)}; last 24 h: {day.retrains} retrains, "
               f"{_number(day.training_seconds, ' s')}")
    table = Table(title=f"Costs of {ledger.adapter}", title_justify="left")
    for column in ("version", "state", "reason", "mode", "train s", "eval s", "examples", "tokens",
                   "quality gained", "served", "requested"):
        table.add_column(column)
    for row in ledger.versions[:rows]:
        version = row.version
        table.add_row(f"v{version}" if version is not None else "-", row.state, row.reason, row.mode or "-",
                      _number(row.training_seconds), _number(row.evaluation_seconds), _number(row.examples_trained),
                      _number(row.tokens_trained), _number(row.quality_gained), _number(row.requests_served),
                      row.requested_at[:19].replace("T", " "))
    return Group(summary, table)


def costs_section(cli: CliContext) -> RenderableType:
    """Every adapter's totals, for `adaptloop status`."""
    table = Table(title="Costs", title_justify="left")
    for column in ("adapter", "retrains", "train s", "eval s", "tokens trained", "served", "mean gain",
                   "24 h retrains", "24 h train s"):
        table.add_column(column)
    for adapter in cli.registry.adapters():
        ledger = cli.trainer.costs(adapter.name)
        totals, day = ledger.totals, ledger.last_24h
        table.add_row(adapter.name, _number(totals.retrains), _number(totals.training_seconds),
                      _number(totals.evaluation_seconds), _number(totals.tokens_trained),
                      _number(totals.requests_served), _number(totals.mean_quality_gained),
                      _number(day.retrains), _number(day.training_seconds))
    return table


@reports_errors
def costs(ctx: typer.Context, name: str = NameArgument,
          rows: int = typer.Option(10, min=1, help="How many retrains to list.")) -> None:
    """What NAME's retrains cost (training and evaluation seconds, examples and tokens trained) and gained (the
    gate's held-out improvement), with requests served per version."""
    stdout().print(costs_table(cli_context(ctx).trainer.costs(name), rows=rows))


@reports_errors
def erase(
    ctx: typer.Context,
    subject: str = typer.Argument(..., metavar="SUBJECT",
                                  help="The `tenant` of the logs, or event ids separated by commas with --events."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; recorded with the erasure and the flags."),
    events: bool = typer.Option(False, "--events", help="SUBJECT is a comma-separated list of event ids."),
) -> None:
    """Erase SUBJECT's examples and pending feedback; shows the snapshots and versions whose lineage held them
    (now `erasure_pending`), to retrain (`adaptloop train NAME`) or retire (`adaptloop retire NAME VERSION`)."""
    body: dict[str, Any] = {"reason": reason}
    if events:
        ids = [part.strip() for part in subject.split(",") if part.strip()]
        if not ids:
            raise CliError("--events needs at least one event id")
        body["event_ids"] = ids
    else:
        body["tenant"] = subject
    answer = cli_context(ctx).ingest.erase(body)
    console = stdout()
    if answer.already_erased:
        console.print(f"[yellow]nothing left to erase[/]: erased before as "
                      f"{', '.join(e.erasure_id for e in answer.already_erased)}")
        return
    console.print(f"[green]erased[/] {answer.examples_removed} examples and "
                  f"{answer.pending_feedback_removed} pending ratings (erasure {answer.erasure_id})")
    for snap in answer.snapshots:
        console.print(f"  snapshot {escape(snap.snapshot_id or snap.sha256[:16])} of "
                      f"{escape(snap.adapter)} held {snap.examples} of them")
    flagged = [v for v in answer.versions if v.status != "retired"]
    for version in flagged:
        console.print(f"  [bold yellow]erasure_pending[/] {escape(version.adapter)} v{version.version} "
                      f"({version.status}, {version.cause})")
    for name in sorted({v.adapter for v in flagged}):
        console.print(f"  next: [bold]adaptloop train {escape(name)}[/] (a full retrain without the erased data), "
                      f"then [bold]adaptloop retire {escape(name)} VERSION -r ...[/] for each flagged version")
    if not flagged:
        console.print("  no registered version was trained on these examples")


@reports_errors
def retire(
    ctx: typer.Context, name: str = NameArgument,
    version: int = typer.Argument(..., min=1, metavar="VERSION", help="A version no alias points at."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; recorded in the audit trail."),
) -> None:
    """Retire VERSION of NAME (it never serves again; an erasure flag is then settled). Admin only."""
    answer = cli_context(ctx).registry.retire(name, version, reason=reason)
    stdout().print(f"[dim]retired[/] {escape(name)} v{version} (by {escape(str(answer.retired_by))})")


@tokens_app.command("create")
@reports_errors
def create_token(
    ctx: typer.Context,
    actor: str = typer.Argument(..., metavar="ACTOR", help="Who the token is for (recorded on what it changes)."),
    role: str = typer.Option("reader", "--role", help="reader, trainer or admin."),
    adapters: str = typer.Option(..., "--adapters", help="Registered adapters it is limited to, comma-separated."),
) -> None:
    """Issue a token limited to ADAPTERS; prints the token once and the entry to add to every service's TOKENS."""
    names = [a.strip() for a in adapters.split(",") if a.strip()]
    answer = cli_context(ctx).registry.issue_token(actor=actor, role=role, adapters=names)
    console = stdout()
    console.print(f"token for {escape(actor)} ({role}, adapters {', '.join(answer.adapters)}):")
    console.print(answer.token, markup=False, highlight=False)
    console.print("add this entry to ADAPTLOOP_<SERVICE>_TOKENS of every service:")
    console.print(answer.entry, markup=False, highlight=False)
