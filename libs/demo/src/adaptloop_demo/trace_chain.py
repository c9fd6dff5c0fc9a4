"""Find the one trace that ties a drifting request to the swap that answered it.

Every service appends its finished spans to the JSON-lines file named by `ADAPTLOOP_SPAN_FILE`
(besides any OTLP exporter). The chain for an adapter: the inference request whose log raised
the alarm -> `drift.detected` -> `retrain.requested` -> `run_training_job` -> the registry's
`publish_outbox_event` of the new version, all in one trace; then the inference replica's
`sync_serving_plan` span, which links to that trace, is the swap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Span = dict[str, Any]


class TraceChainBroken(AssertionError):
    """No trace holds the whole chain; the message names the first missing link."""


@dataclass(frozen=True)
class LoopTrace:
    trace_id: str
    request: Span
    drift: Span
    retrain: Span
    job: Span
    announcement: Span
    swap: Span

    def describe(self) -> list[str]:
        return [
            f"{s['service']}: {s['name']}"
            for s in (self.request, self.drift, self.retrain, self.job, self.announcement, self.swap)
        ]


def load_spans(path: Path) -> list[Span]:
    spans = []
    if not path.exists():
        return spans
    for line in path.read_text(errors="replace").splitlines():
        try:
            spans.append(json.loads(line))
        except ValueError:
            continue
    return spans


def _attr(span: Span, key: str) -> Any:
    return (span.get("attributes") or {}).get(key)


def find_loop_trace(spans: list[Span], adapter: str) -> LoopTrace:
    """The most recent complete chain for `adapter`; `TraceChainBroken` says what is missing."""
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        by_trace.setdefault(span["trace_id"], []).append(span)
    retrains = sorted(
        (s for s in spans if s["name"] == "retrain.requested" and _attr(s, "adaptloop.adapter") == adapter),
        key=lambda s: s.get("start_ns") or 0,
        reverse=True,
    )
    if not retrains:
        raise TraceChainBroken(f"no retrain.requested span for adapter {adapter!r}")
    missing = "nothing"
    for retrain in retrains:
        trace_id = retrain["trace_id"]
        in_trace = by_trace[trace_id]
        found: dict[str, Span | None] = {
            "an inference request": next(
                (s for s in in_trace if s["service"] == "adaptloop-inference" and s["name"].startswith("POST /v1/")),
                None,
            ),
            "drift.detected": next((s for s in in_trace if s["name"] == "drift.detected"), None),
            "run_training_job": next(
                (s for s in in_trace if s["name"] == "run_training_job" and _attr(s, "adaptloop.model") == adapter),
                None,
            ),
            "the registry's publish_outbox_event": next(
                (s for s in in_trace if s["name"] == "publish_outbox_event"), None
            ),
            "an inference swap linked to the trace": next(
                (
                    s
                    for s in spans
                    if s["service"] == "adaptloop-inference"
                    and s["name"] == "sync_serving_plan"
                    and any(link["trace_id"] == trace_id for link in s.get("links") or [])
                ),
                None,
            ),
        }
        absent = [name for name, span in found.items() if span is None]
        if not absent:
            return LoopTrace(
                trace_id,
                found["an inference request"],
                found["drift.detected"],
                retrain,  # type: ignore[arg-type]
                found["run_training_job"],
                found["the registry's publish_outbox_event"],  # type: ignore[arg-type]
                found["an inference swap linked to the trace"],
            )  # type: ignore[arg-type]
        missing = f"trace {trace_id} lacks {', '.join(absent)}"
    raise TraceChainBroken(missing)
