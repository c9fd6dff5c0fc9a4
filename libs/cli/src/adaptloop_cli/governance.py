"""`adaptloop erase | retire | costs | tokens`: data governance and what adapters cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer
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


def costs_table(ledger: Mapping[str, Any], *, rows: int = 10) -> RenderableType:
    """The cost ledger of one adapter: totals, the last 24 hours, then one row per retrain (newest first)."""
    totals, day = ledger.get("totals") or {}, ledger.get("last_24h") or {}
    summary = (f"[bold]{escape(str(ledger.get('adapter')))}[/]: {totals.get('retrains', 0)} retrains, "
               f"{_number(totals.get('training_seconds'), ' s')} training, "
               f"{_number(totals.get('evaluation_seconds'), ' s')} evaluation, "
               f"{_number(totals.get('tokens_trained'))} tokens trained, "
               f"{_number(totals.get('requests_served'))} requests served, mean quality gained "
               f"{_number(totals.get('mean_quality_gained'))}; last 24 h: {day.get('retrains', 0)} retrains, "
               f"{_number(day.get('training_seconds'), ' s')}")
    table = Table(title=f"Costs of {ledger.get('adapter')}", title_justify="left")
    for column in ("version", "state", "reason", "mode", "train s", "eval s", "examples", "tokens",
                   "quality gained", "served", "requested"):
        table.add_column(column)
    for row in list(ledger.get("versions") or [])[:rows]:
        version = row.get("version")
        table.add_row(f"v{version}" if version is not None else "-", str(row.get("state")), str(row.get("reason")),
                      str(row.get("mode") or "-"), _number(row.get("training_seconds")),
                      _number(row.get("evaluation_seconds")), _number(row.get("examples_trained")),
                      _number(row.get("tokens_trained")), _number(row.get("quality_gained")),
                      _number(row.get("requests_served")), str(row.get("requested_at") or "-")[:19].replace("T", " "))
    return Group(summary, table)


def costs_section(cli: CliContext) -> RenderableType:
    """Every adapter's totals, for `adaptloop status`."""
    table = Table(title="Costs", title_justify="left")
    for column in ("adapter", "retrains", "train s", "eval s", "tokens trained", "served", "mean gain",
                   "24 h retrains", "24 h train s"):
        table.add_column(column)
    for adapter in cli.registry.adapters():
        ledger = cli.trainer.get_json(f"/v1/adapters/{adapter['name']}/costs")
        totals, day = ledger.get("totals") or {}, ledger.get("last_24h") or {}
        table.add_row(str(adapter["name"]), _number(totals.get("retrains")), _number(totals.get("training_seconds")),
                      _number(totals.get("evaluation_seconds")), _number(totals.get("tokens_trained")),
                      _number(totals.get("requests_served")), _number(totals.get("mean_quality_gained")),
                      _number(day.get("retrains")), _number(day.get("training_seconds")))
    return table


@reports_errors
def costs(ctx: typer.Context, name: str = NameArgument,
          rows: int = typer.Option(10, min=1, help="How many retrains to list.")) -> None:
    """What NAME's retrains cost (training and evaluation seconds, examples and tokens trained) and gained (the
    gate's held-out improvement), with requests served per version."""
    stdout().print(costs_table(cli_context(ctx).trainer.get_json(f"/v1/adapters/{name}/costs"), rows=rows))


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
    answer = cli_context(ctx).ingest.request("POST", "/v1/erasures", json=body, auth=True).json()
    console = stdout()
    if answer.get("already_erased"):
        console.print(f"[yellow]nothing left to erase[/]: erased before as "
                      f"{', '.join(e['erasure_id'] for e in answer['already_erased'])}")
        return
    console.print(f"[green]erased[/] {answer.get('examples_removed', 0)} examples and "
                  f"{answer.get('pending_feedback_removed', 0)} pending ratings (erasure {answer.get('erasure_id')})")
    for snap in answer.get("snapshots") or []:
        console.print(f"  snapshot {escape(str(snap.get('snapshot_id') or snap['sha256'][:16]))} of "
                      f"{escape(str(snap['adapter']))} held {snap.get('examples', '?')} of them")
    flagged = [v for v in answer.get("versions") or [] if v.get("status") != "retired"]
    for version in flagged:
        console.print(f"  [bold yellow]erasure_pending[/] {escape(str(version['adapter']))} v{version['version']} "
                      f"({version.get('status')}, {version.get('cause')})")
    for name in sorted({str(v["adapter"]) for v in flagged}):
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
    answer = cli_context(ctx).registry.request("POST", f"/v1/adapters/{name}/versions/{version}/retire",
                                               json={"reason": reason}, auth=True).json()
    stdout().print(f"[dim]retired[/] {escape(name)} v{version} (by {escape(str(answer.get('retired_by')))})")


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
    answer = cli_context(ctx).registry.request("POST", "/v1/tokens", auth=True,
                                               json={"actor": actor, "role": role, "adapters": names}).json()
    console = stdout()
    console.print(f"token for {escape(actor)} ({role}, adapters {', '.join(answer['adapters'])}):")
    console.print(answer["token"], markup=False, highlight=False)
    console.print("add this entry to ADAPTLOOP_<SERVICE>_TOKENS of every service:")
    console.print(answer["entry"], markup=False, highlight=False)
