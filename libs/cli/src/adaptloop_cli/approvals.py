"""`adaptloop approve | reject`: decide a version waiting in `pending_approval` (the `approval` policy)."""

from __future__ import annotations

import typer
from rich.markup import escape

from adaptloop_cli.console import stdout
from adaptloop_cli.context import cli_context
from adaptloop_cli.errors import ServiceRefused, reports_errors

NameArgument = typer.Argument(..., metavar="NAME", help="Adapter name.")
VersionArgument = typer.Argument(..., min=1, metavar="VERSION", help="The version waiting for approval.")


def _decide(ctx: typer.Context, name: str, version: int, reason: str, *, approve: bool) -> None:
    registry = cli_context(ctx).registry
    try:
        answer = registry.decide_approval(name, version, approve=approve, reason=reason)
    except ServiceRefused as exc:
        if exc.status != 409:
            raise
        raise ServiceRefused(exc.service, f"{'approving' if approve else 'rejecting'} {name} v{version}", 409,
                             exc.reason, hint=f"only a pending_approval version can be decided; run "
                                               f"`adaptloop versions {name}` to see its status") from None
    if approve:
        before = answer.moves[0].previous_version if answer.moves else None
        stdout().print(f"[green]approved[/] {escape(name)} v{version}: production "
                       f"{'v' + str(before) if before is not None else 'unset'} -> v{version} "
                       f"(by {escape(answer.actor)})")
    else:
        stdout().print(f"[red]rejected[/] {escape(name)} v{version} (by {escape(answer.actor)}); "
                       "nothing moved")


@reports_errors
def approve(
    ctx: typer.Context, name: str = NameArgument, version: int = VersionArgument,
    reason: str = typer.Option(..., "--reason", "-r", help="Why; recorded in the audit trail and the alias history."),
) -> None:
    """Approve VERSION of NAME: production moves to it (compare-and-swap from where it points now). Admin only."""
    _decide(ctx, name, version, reason, approve=True)


@reports_errors
def reject(
    ctx: typer.Context, name: str = NameArgument, version: int = VersionArgument,
    reason: str = typer.Option(..., "--reason", "-r", help="Why; recorded in the audit trail."),
) -> None:
    """Reject VERSION of NAME: it becomes `rejected` and never serves as production. Admin only."""
    _decide(ctx, name, version, reason, approve=False)
