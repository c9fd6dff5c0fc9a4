"""The trace-chain finder accepts a whole chain and names the first missing link otherwise."""

from __future__ import annotations

import pytest
from adaptloop_demo.trace_chain import TraceChainBroken, find_loop_trace

T = "a" * 32


def _span(service: str, name: str, trace_id: str = T, **attributes: object) -> dict:
    return {
        "service": service,
        "name": name,
        "trace_id": trace_id,
        "span_id": name[:16],
        "links": [],
        "attributes": attributes,
        "start_ns": 1,
    }


def _chain() -> list[dict]:
    swap = _span("adaptloop-inference", "sync_serving_plan", trace_id="b" * 32)
    swap["links"] = [{"trace_id": T, "span_id": "1" * 16}]
    return [
        _span("adaptloop-inference", "POST /v1/chat/completions"),
        _span("adaptloop-drift", "drift.detected", **{"adaptloop.adapter": "support"}),
        _span("adaptloop-drift", "retrain.requested", **{"adaptloop.adapter": "support"}),
        _span("adaptloop-trainer", "run_training_job", **{"adaptloop.model": "support"}),
        _span("adaptloop-registry", "publish_outbox_event"),
        swap,
    ]


def test_whole_chain_is_found() -> None:
    found = find_loop_trace(_chain(), "support")
    assert found.trace_id == T
    assert found.swap["trace_id"] == "b" * 32
    assert len(found.describe()) == 6


@pytest.mark.parametrize("drop", ["drift.detected", "run_training_job", "publish_outbox_event", "sync_serving_plan"])
def test_missing_link_is_named(drop: str) -> None:
    spans = [s for s in _chain() if s["name"] != drop]
    with pytest.raises(TraceChainBroken) as info:
        find_loop_trace(spans, "support")
    assert T in str(info.value)


def test_other_adapters_do_not_count() -> None:
    with pytest.raises(TraceChainBroken, match=r"no retrain\.requested"):
        find_loop_trace(_chain(), "billing")
