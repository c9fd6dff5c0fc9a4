"""`python -m adaptloop_drift.offline FILE.jsonl`: the service's signals, detectors and policy over a file.

Each line is one `inference.log`, `inference.feedback`, `registry.events` or `training.events`
event (as on the topics). Detections, the retrain requests the policy would make and the rollout
judge's verdicts (canary graduations and abandons, guard rollbacks; the same `decision_id`s the
service derives) are printed as JSON lines (or a table with `--format table`); nothing needs a broker.
Replay events in the order they happened (e.g. merged by `occurred_at`) to get the service's verdicts.
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
from adaptloop_drift.rollout.judge import RolloutConfig, RolloutJudge
from adaptloop_drift.rollout.trials import TrialRules, Verdict
from adaptloop_drift.signals import Signal


@dataclass
class OfflineResult:
    detections: list[DriftDetected] = field(default_factory=list)
    requests: list[RetrainRequested] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    events: int = 0


def evaluate(lines: Iterable[str], *, monitor_config: MonitorConfig | None = None,
             policy: DriftPolicy | None = None, rollout_config: RolloutConfig | None = None,
             max_adapters: int = 10_000) -> Iterator[tuple[int, Any]]:
    """Yield `(line number, DriftDetected | RetrainRequested | Verdict | str reason)` as the stream is replayed."""
    monitors = AdapterMonitors(monitor_config or MonitorConfig())
    policy = policy or DriftPolicy()
    judge = RolloutJudge(rollout_config or RolloutConfig(), monitors.served)
    states: dict[str, AdapterPolicyState] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            payload = json.loads(line)
            if not isinstance(payload, dict):
                raise InvalidEvent("expected a JSON object")
            kind = str(payload.get("event_type", ""))
            verdicts: list[Verdict] = []
            if kind == "inference.log":
                log = InferenceLog.from_payload(payload)
                found = handle_inference_log(log, monitors=monitors, max_adapters=max_adapters)
                verdicts = judge.observe_log(adapter_of(log.model), log)
            elif kind == "inference.feedback":
                rating = InferenceFeedback.from_payload(payload)
                found = handle_feedback(rating, monitors=monitors, max_adapters=max_adapters)
                verdicts = judge.observe_feedback(adapter_of(rating.model), rating)
            elif kind.startswith("training."):
                ev = TrainingEvent.from_payload(payload)
                policy.on_training_event(states.setdefault(adapter_of(ev.model), AdapterPolicyState()), ev)
                continue
            elif kind.startswith(("adapter.", "base_model.")):
                reg = RegistryEvent.from_payload(payload)
                monitors.announce(reg.model, reg.version)
                policy.on_registry_event(states.setdefault(adapter_of(reg.model), AdapterPolicyState()), reg)
                for verdict in judge.observe_registry(reg):
                    yield n, verdict
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
        for verdict in verdicts:
            yield n, verdict
        for detected in found:
            judge.observe_detection(detected)
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
        elif isinstance(item, Verdict):
            result.verdicts.append(item)
        else:
            result.rejected.append((n, item))
    return result


def _print(n: int, item: Any, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        if isinstance(item, str):
            out.write(json.dumps({"line": n, "rejected": item}) + "\n")
        elif isinstance(item, Verdict):
            out.write(json.dumps({"line": n, "rollout.verdict": item.snapshot()}) + "\n")
        else:
            out.write(json.dumps({"line": n, item.event_type: item.model_dump(mode="json")}) + "\n")
        return
    if isinstance(item, DriftDetected):
        out.write(f"{n:>8}  drift    {item.model}@{item.adapter_version}  {item.signal:<18} {item.detector:<8}"
                  f" {item.severity:<6} shift={item.evidence.get('shift')}\n")
    elif isinstance(item, RetrainRequested):
        out.write(f"{n:>8}  retrain  {item.model}  request {item.event_id}\n")
    elif isinstance(item, Verdict):
        out.write(f"{n:>8}  verdict  {item.adapter}@{item.version}  {item.action:<20} {item.decision_id}"
                  f"  {item.reason}\n")
    else:
        out.write(f"{n:>8}  rejected {item}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adaptloop_drift.offline", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="JSON lines of events ('-' for stdin)")
    parser.add_argument("--format", choices=("json", "table"), default="json")
    parser.add_argument("--detectors", default="{}",
                        help='JSON per-signal overrides, e.g. \'{"quality_error": {"kind": "HDDM_A"}}\'')
    parser.add_argument("--novelty-reference-prompts", type=int, default=200)
    parser.add_argument("--rollout", default="{}",
                        help='JSON overrides of the judge\'s rules, e.g. \'{"alpha": 0.01, "min_rated_per_arm": 50}\'')
    args = parser.parse_args(argv)
    overrides = TypeAdapter(dict[Signal, DetectorSpec]).validate_json(args.detectors)
    config = MonitorConfig(detectors={**DEFAULT_DETECTORS, **overrides},
                           novelty_reference_prompts=args.novelty_reference_prompts)
    stream: TextIO = sys.stdin if str(args.file) == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    rollout = RolloutConfig(rules=TrialRules(**json.loads(args.rollout)))
    counts = {"drift.detected": 0, "retrain.requested": 0, "rollout.verdict": 0, "rejected": 0}
    with stream:
        for n, item in evaluate(stream, monitor_config=config, rollout_config=rollout):
            _print(n, item, args.format, sys.stdout)
            kind = "rejected" if isinstance(item, str) else "rollout.verdict" if isinstance(item, Verdict) \
                else item.event_type
            counts[kind] += 1
    sys.stderr.write(json.dumps(counts) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
