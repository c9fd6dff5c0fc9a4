"""`python -m adaptloop_drift.offline FILE.jsonl`: the service's signals, detectors and policy over a file.

Each line is one `inference.log`, `inference.feedback`, `registry.events` or `training.events`
event (as on the topics). Detections and the retrain requests the policy would make are printed
as JSON lines (or a table with `--format table`); nothing needs a broker.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from adaptloop_contracts import (
    DriftDetected,
    InferenceFeedback,
    InferenceLog,
    InvalidEvent,
    RegistryEvent,
    RetrainRequested,
    TrainingEvent,
    adapter_of,
)
from pydantic import TypeAdapter

from adaptloop_drift.detectors import DetectorSpec
from adaptloop_drift.errors import UnmonitoredEvent
from adaptloop_drift.handlers import BaseModelTraffic, handle_feedback, handle_inference_log
from adaptloop_drift.monitor import DEFAULT_DETECTORS, AdapterMonitors, MonitorConfig
from adaptloop_drift.policy import AdapterPolicyState, DriftPolicy
from adaptloop_drift.signals import Signal


@dataclass
class OfflineResult:
    detections: list[DriftDetected] = field(default_factory=list)
    requests: list[RetrainRequested] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    events: int = 0


def evaluate(lines: Iterable[str], *, monitor_config: MonitorConfig | None = None,
             policy: DriftPolicy | None = None, max_adapters: int = 10_000) -> Iterator[tuple[int, Any]]:
    """Yield `(line number, DriftDetected | RetrainRequested | str reason)` as the stream is replayed."""
    monitors = AdapterMonitors(monitor_config or MonitorConfig())
    policy = policy or DriftPolicy()
    states: dict[str, AdapterPolicyState] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            payload = json.loads(line)
            if not isinstance(payload, dict):
                raise InvalidEvent("expected a JSON object")
            kind = str(payload.get("event_type", ""))
            if kind == "inference.log":
                found = handle_inference_log(InferenceLog.from_payload(payload), monitors=monitors,
                                             max_adapters=max_adapters)
            elif kind == "inference.feedback":
                found = handle_feedback(InferenceFeedback.from_payload(payload), monitors=monitors,
                                        max_adapters=max_adapters)
            elif kind.startswith("training."):
                ev = TrainingEvent.from_payload(payload)
                policy.on_training_event(states.setdefault(adapter_of(ev.model), AdapterPolicyState()), ev)
                continue
            elif kind.startswith(("adapter.", "base_model.")):
                reg = RegistryEvent.from_payload(payload)
                monitors.announce(reg.model, reg.version)
                policy.on_registry_event(states.setdefault(adapter_of(reg.model), AdapterPolicyState()), reg)
                continue
            else:
                raise InvalidEvent(f"unknown event_type {kind!r}")
        except json.JSONDecodeError as exc:
            yield n, f"not JSON: {exc.msg}"
            continue
        except (InvalidEvent, UnmonitoredEvent) as exc:
            yield n, exc.reason
            continue
        except BaseModelTraffic:
            continue
        for detected in found:
            yield n, detected
            request = policy.on_drift_detected(states.setdefault(detected.model, AdapterPolicyState()), detected)
            if request is not None:
                yield n, request


def run(lines: Iterable[str], **kwargs: Any) -> OfflineResult:
    result = OfflineResult()
    for n, item in evaluate(lines, **kwargs):
        if isinstance(item, DriftDetected):
            result.detections.append(item)
        elif isinstance(item, RetrainRequested):
            result.requests.append(item)
        else:
            result.rejected.append((n, item))
    return result


def _print(n: int, item: Any, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        if isinstance(item, str):
            out.write(json.dumps({"line": n, "rejected": item}) + "\n")
        else:
            out.write(json.dumps({"line": n, item.event_type: item.model_dump(mode="json")}) + "\n")
        return
    if isinstance(item, DriftDetected):
        out.write(f"{n:>8}  drift    {item.model}@{item.adapter_version}  {item.signal:<18} {item.detector:<8}"
                  f" {item.severity:<6} shift={item.evidence.get('shift')}\n")
    elif isinstance(item, RetrainRequested):
        out.write(f"{n:>8}  retrain  {item.model}  request {item.event_id}\n")
    else:
        out.write(f"{n:>8}  rejected {item}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adaptloop_drift.offline", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="JSON lines of events ('-' for stdin)")
    parser.add_argument("--format", choices=("json", "table"), default="json")
    parser.add_argument("--detectors", default="{}",
                        help='JSON per-signal overrides, e.g. \'{"quality_error": {"kind": "HDDM_A"}}\'')
    parser.add_argument("--novelty-reference-prompts", type=int, default=200)
    args = parser.parse_args(argv)
    overrides = TypeAdapter(dict[Signal, DetectorSpec]).validate_json(args.detectors)
    config = MonitorConfig(detectors={**DEFAULT_DETECTORS, **overrides},
                           novelty_reference_prompts=args.novelty_reference_prompts)
    stream: TextIO = sys.stdin if str(args.file) == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    counts = {"drift.detected": 0, "retrain.requested": 0, "rejected": 0}
    with stream:
        for n, item in evaluate(stream, monitor_config=config):
            _print(n, item, args.format, sys.stdout)
            counts["rejected" if isinstance(item, str) else item.event_type] += 1
    sys.stderr.write(json.dumps(counts) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
