"""`adaptloop versions | promote | rollback`: an adapter's versions and its aliases, moved by compare-and-swap."""

from __future__ import annotations

import typer
from adaptloop_contracts.registry_api import AliasMoveRecord

from adaptloop_cli.console import stdout
from adaptloop_cli.context import cli_context
from adaptloop_cli.datasets import suites_table
from adaptloop_cli.errors import ServiceRefused, reports_errors
from adaptloop_cli.tables import PENDING_APPROVAL, decide_hint, versions_table

AliasOption = typer.Option("production", "--alias", "-a", help="The alias to move.")


@reports_errors
def versions(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="Adapter name.")) -> None:
    """List an adapter's versions with their status, aliases, gate verdict and metrics."""
    registry = cli_context(ctx).registry
    adapter = registry.adapter(name)
    listed = registry.versions(name)
    stdout().print(versions_table(name, listed, adapter.aliases))
    suites = suites_table(name, listed)
    if suites is not None:
        stdout().print(suites)
    pending = [v for v in listed if v.status == PENDING_APPROVAL]
    if pending:
        stdout().print(decide_hint(pending))


@reports_errors
def promote(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Adapter name."),
    version: int = typer.Argument(..., min=1, metavar="VERSION", help="The version the alias should point at."),
    alias: str = AliasOption,
    reason: str = typer.Option("promoted with the adaptloop CLI", "--reason", "-r", help="Recorded in the history."),
    expected_version: int | None = typer.Option(
        None, "--expected-version", "-e", min=1,
        help="The version you believe the alias points at now; default: what the registry says right now."),
) -> None:
    """Point ALIAS of NAME at VERSION, only if the alias has not moved since you looked (compare-and-swap)."""
    registry = cli_context(ctx).registry
    expected = expected_version
    if expected is None:
        expected = registry.adapter(name).aliases.get(alias)
    try:
        moved = registry.move_alias(name, alias, version=version, expected_version=expected, reason=reason)
    except ServiceRefused as exc:
        if exc.status != 409:
            raise
        raise ServiceRefused(
            exc.service, f"moving {name}:{alias} to v{version}", 409,
            f"{exc.reason} (the alias moved since it was read as "
            f"{'unset' if expected is None else f'v{expected}'}, or the version cannot be served)",
            hint=f"run `adaptloop versions {name}` to see where {alias} points now, then retry with "
                 "--expected-version set to that version",
        ) from None
    _print_move(moved, name, alias)


@reports_errors
def rollback(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Adapter name."),
    alias: str = AliasOption,
    reason: str = typer.Option(..., "--reason", "-r", help="Why; recorded in the alias history."),
) -> None:
    """Move ALIAS of NAME back to the version it pointed at before its latest move."""
    moved = cli_context(ctx).registry.rollback_alias(name, alias, reason=reason)
    _print_move(moved, name, alias)


def _print_move(moved: AliasMoveRecord, name: str, alias: str) -> None:
    previous = moved.previous_version
    before = f"v{previous}" if previous is not None else "unset"
    stdout().print(f"[green]{name}:{alias}[/] {before} -> v{moved.version} "
                   f"(by {moved.moved_by}, event {moved.event_id})")
