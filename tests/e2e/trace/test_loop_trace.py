"""One trace across the loop: from a drifting request to the swap that answered it.

Runs the demo scenario (traffic, a domain shift, drift, retrain, promotion, swap) on the running
stack for an adapter of its own, then reads the spans every service wrote.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from adaptloop_demo.scenario import DemoParams, run_scenario
from adaptloop_demo.trace_chain import TraceChainBroken, find_loop_trace, load_spans
from adaptloop_devstack.stack import Stack
from rich.console import Console

ADAPTER = "tracing"


@pytest.mark.timeout(1500)
def test_trace_links_drifting_request_to_the_swap(stack: Stack) -> None:
    params = DemoParams(
        adapter=ADAPTER,
        seed=3,
        seed_examples=64,
        requests_after_swap=8,
        after_shift_rps=2.0,
        deadline_s=600,
        training_config={
            "steps": 16,
            "rank": 8,
            "learning_rate": 3e-3,
            "batch_size": 8,
            "seq_len": 192,
            "gate": {"max_regression_increase": 0.3},
        },
    )
    result = run_scenario(stack, params, Console(quiet=True))
    assert result.new_version is not None, "no new version served after the shift"

    span_file = Path(stack.config.extra_env["ADAPTLOOP_SPAN_FILE"])
    deadline = time.monotonic() + 30
    while True:
        try:
            chain = find_loop_trace(load_spans(span_file), ADAPTER)
            break
        except TraceChainBroken:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert chain.request["trace_id"] == chain.drift["trace_id"] == chain.job["trace_id"] == chain.trace_id
    assert chain.announcement["service"] == "adaptloop-registry"
    assert any(link["trace_id"] == chain.trace_id for link in chain.swap["links"])
