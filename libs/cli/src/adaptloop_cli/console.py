"""Rich consoles, made when needed so they follow the current stdout/stderr and terminal width."""

from __future__ import annotations

from rich.console import Console


def stdout() -> Console:
    return Console(highlight=False)


def stderr() -> Console:
    return Console(stderr=True, highlight=False)
