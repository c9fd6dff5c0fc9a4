"""The longest waits of the shared end-to-end fixtures, named once for the fixtures and their tests' time limits.

The fixtures are session-scoped: whichever test comes first pays for them, on top of its own
steps, so a test that uses them declares a timeout of pytest's global one plus their waits.
"""

from __future__ import annotations

GLOBAL_TIMEOUT_S = 900
"""pytest's `--timeout` (pyproject.toml): what a test's own steps may take."""
STACK_UP_S = 240 + 30
"""`StackConfig.ready_timeout_s` for every service, and the broker's 30 s."""
LISTED_S, DRIFT_COUNTED_S, SWAP_S, SERVED_S = 60, 60, 600, 120
"""`closed_loop`: the adapter listed, the request seen by drift, the swap, the new version served."""
WRONG_JOB_S = 600
"""`trained` (rollout): the wrong-answer adapter's training job."""
SESSION_FIXTURE_WAITS_S = {
    "stack": STACK_UP_S,
    "closed_loop": LISTED_S + DRIFT_COUNTED_S + SWAP_S + SERVED_S,
    "trained": WRONG_JOB_S,
}


def timeout_for(fixtures: set[str]) -> float | None:
    """The time limit of a test using `fixtures`; None when it uses none of the shared ones."""
    used = [s for name, s in SESSION_FIXTURE_WAITS_S.items() if name in fixtures]
    return GLOBAL_TIMEOUT_S + sum(used) if used else None
