"""`adaptloop up | down`: the local stack in the background (broker, database, the five services)."""

from __future__ import annotations

import typer


def up() -> None:
    """Start the local stack in the background and wait until every service is ready."""
    from adaptloop_devstack.stack import main as stack_main

    code = stack_main(["up"])
    if code:
        raise typer.Exit(code)


def down() -> None:
    """Stop the processes the local stack started."""
    from adaptloop_devstack.stack import main as stack_main

    code = stack_main(["down"])
    if code:
        raise typer.Exit(code)
