"""`adaptloop demo`: the continuous-adaptation scenario on the real local stack."""

from __future__ import annotations

import typer

from adaptloop_cli.console import stdout


def demo(
    keep_running: bool = typer.Option(False, "--keep-running", help="Leave the stack up afterwards."),
    seed: int = typer.Option(0, "--seed", help="Seed of the scenario."),
) -> None:
    """Run the continuous-adaptation scenario end to end, print the timeline and write var/demo/report.html."""
    from adaptloop_demo.run import DemoError, run_demo

    try:
        run_demo(seed=seed, keep_running=keep_running, console=stdout())
    except DemoError as exc:
        stdout().print(f"[red]demo failed:[/] {exc}")
        raise typer.Exit(1) from None
