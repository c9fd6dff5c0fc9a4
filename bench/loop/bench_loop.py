"""Time to adapter in the demo scenario, split by phase, and the tracing overhead of the drift service.

Runs the demo (`adaptloop_demo.run.run_demo`) on the real stack and reads its summary; the tracing
figure is the drift service's throughput with tracing on over tracing off, measured back to back
on the same topic by bench/drift/bench_drift.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from adaptloop_devstack.bench_stamp import OUTSIDE_RESULTS, load_average, run_stamp

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def tracing_ratio() -> float | None:
    """Drift throughput with tracing on / off, measured back to back by the drift benchmark."""
    drift = RESULTS / "drift.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench/drift/bench_drift.py")], capture_output=True, text=True,
                          timeout=1800)
    if proc.returncode != 0 or not drift.exists():
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(drift.read_text()).get("tracing_on_over_off")


def main() -> None:
    from adaptloop_demo.run import run_demo

    stamp = run_stamp(OUTSIDE_RESULTS)
    summary = run_demo(seed=0)
    result = {
        **stamp,
        "time_to_adapter_s": summary["time_to_adapter_s"],
        "shares": summary["shares"],
        "tracing_on_over_off": tracing_ratio(),
        "detection_delay_events": summary["detection_delay_events"],
        "rating_before_swap": summary["rating_before_swap"],
        "rating_after_swap": summary["rating_after_swap"],
        "milestones": summary["milestones"],
        "machine": {**stamp["machine"], "load_average_at_end": load_average()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "loop.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
