"""`adaptloop demo`: the continuous-adaptation scenario on the real local stack."""

from __future__ import annotations

import typer

from adaptloop_cli.console import stdout


def demo(
    keep_running: bool = typer.Option(False, "--keep-running", help="Leave the stack up afterwards."),
    seed: int = typer.Option(0, "--seed", help="Seed of the scenario."),
    training_mode: str = typer.Option(
        "incremental", "--training-mode", help="How the adapter retrains after the shift: incremental or full."
    ),
) -> None:
    """Run the continuous-adaptation scenario end to end, print the timeline and write var/demo/report.html."""
    from adaptloop_demo.run import DemoError, run_demo
    from adaptloop_demo.scenario import DemoParams

    if training_mode not in ("incremental", "full"):
        raise typer.BadParameter(f"{training_mode!r} is not a training mode; use incremental or full",
                                 param_hint="--training-mode")
    params = DemoParams(seed=seed)
    params.training_config["mode"] = training_mode
    try:
        run_demo(seed=seed, keep_running=keep_running, console=stdout(), params=params)
    except DemoError as exc:
        stdout().print(f"[red]demo failed:[/] {exc}")
        raise typer.Exit(1) from None
