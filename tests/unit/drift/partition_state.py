"""One partition's detector and judge state fed with a seeded stream of logs and ratings (checkpoint tests)."""

from __future__ import annotations

from adaptloop_drift.monitor import AdapterMonitors, MonitorConfig
from adaptloop_drift.rollout.judge import RolloutConfig, RolloutJudge
from adaptloop_drift.synthetic import make_feedback, make_log


def fed_partition(events: int, *, seed: int = 1, served_logs: int = 10_000,
                  versions: int = 1) -> tuple[AdapterMonitors, RolloutJudge]:
    """`events` logs of adapter "support" (served by versions 1..`versions` in turn), each rated (every fourth an
    error), through the monitors and a judge sharing their served-log index."""
    monitors = AdapterMonitors(MonitorConfig(served_logs=served_logs))
    judge = RolloutJudge(RolloutConfig(), monitors.served)
    for i in range(events):
        log = make_log("support", i, seed=seed, version=1 + i % versions)
        monitors.observe_log("support", log)
        judge.observe_log("support", log)
        rating = make_feedback("support", i, i % 4 == 0, seed=seed)
        monitors.observe_feedback("support", rating)
        judge.observe_feedback("support", rating)
    return monitors, judge
