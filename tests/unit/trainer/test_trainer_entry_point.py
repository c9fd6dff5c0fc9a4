"""`python -m adaptloop_trainer` sets OpenMP's passive wait policy before torch loads (unless the environment
sets one)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# The entry point's module, run as `-m` runs it, with the service's main replaced by a report of what
# it would start with: the wait policy and whether torch was already loaded.
PROBE = """
import os, runpy, sys, types
main = types.ModuleType("adaptloop_trainer.main")
main.main = lambda: print(os.environ.get("OMP_WAIT_POLICY"), "torch" in sys.modules)
sys.modules["adaptloop_trainer.main"] = main
runpy.run_module("adaptloop_trainer", run_name="__main__")
"""


@pytest.mark.parametrize(("given", "expected"), [(None, "passive"), ("active", "active")])
def test_the_trainer_process_waits_passively_unless_told_otherwise(given: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [expected, "False"]
