"""The `adaptloop` command: one typer app, one module per command group."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from adaptloop_cli import adapters, approvals, demo, governance, stack, status, training
from adaptloop_cli.context import CliContext
from adaptloop_cli.datasets import examples_app, suites_app
from adaptloop_cli.drift import drift_app
from adaptloop_cli.errors import CliError, report
from adaptloop_cli.onboarding import adapters_app, base_models_app
from adaptloop_cli.settings import CliSettings

app = typer.Typer(
    name="adaptloop",
    help="Operate adaptloop: adapters, aliases, training jobs, drift, and the local stack.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def root(ctx: typer.Context) -> None:
    """Settings come from ADAPTLOOP_CLI_* (service URLs) and ADAPTLOOP_TOKEN (else the local stack's admin token)."""
    if isinstance(ctx.obj, CliContext):
        return
    try:
        settings = CliSettings()
    except ValidationError as exc:
        report(CliError(f"invalid ADAPTLOOP_CLI_* setting: {exc}"))
        raise typer.Exit(1) from None
    ctx.obj = CliContext(settings=settings)
    ctx.call_on_close(ctx.obj.close)


app.command("status")(status.status)
app.command("versions")(adapters.versions)
app.command("promote")(adapters.promote)
app.command("rollback")(adapters.rollback)
app.command("approve")(approvals.approve)
app.command("reject")(approvals.reject)
app.command("train")(training.train)
app.command("jobs")(training.jobs)
app.command("upgrade-base")(training.upgrade_base)
app.command("erase")(governance.erase)
app.command("retire")(governance.retire)
app.command("costs")(governance.costs)
app.add_typer(governance.tokens_app, name="tokens")
app.add_typer(drift_app, name="drift")
app.add_typer(base_models_app, name="base-models")
app.add_typer(adapters_app, name="adapters")
app.add_typer(examples_app, name="examples")
app.add_typer(suites_app, name="eval-suites")
app.command("up")(stack.up)
app.command("down")(stack.down)
app.command("demo")(demo.demo)


if __name__ == "__main__":
    app()
