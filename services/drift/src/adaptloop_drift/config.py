"""Settings of the drift service: environment variables `ADAPTLOOP_DRIFT_*`."""

from __future__ import annotations

import math
import os
from pathlib import Path

from adaptloop_common.settings import ServiceSettings
from adaptloop_contracts.inference import INFERENCE_FEEDBACK, INFERENCE_LOGS
from adaptloop_contracts.registry import REGISTRY_EVENTS
from adaptloop_contracts.topics import TOPICS
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from adaptloop_drift.detectors import DetectorSpec
from adaptloop_drift.monitor import DEFAULT_DETECTORS, MonitorConfig
from adaptloop_drift.policy import PolicyConfig, RetrainBudget
from adaptloop_drift.rollout.judge import RolloutConfig
from adaptloop_drift.rollout.trials import TrialRules
from adaptloop_drift.signals import OPERATIONAL_SIGNALS, Signal

SIGNAL_PARTITIONS = min(TOPICS[t].partitions for t in (INFERENCE_LOGS, INFERENCE_FEEDBACK, REGISTRY_EVENTS))
"""Partitions of the signal consumer's source topics: the most consumers of one group that all get some."""


def usable_cores() -> int:
    """Cores this process may run on, lowered to a container's CPU limit (cgroup v2 `cpu.max`, rounded up)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, math.ceil(int(quota) / int(period))))


class RetrainBudgetSetting(BaseModel):
    """One adapter's retrain budget per 24 hours; an unknown key or a negative limit is refused at start."""

    model_config = ConfigDict(extra="forbid")

    retrains_per_day: int | None = Field(default=None, ge=0)
    training_seconds_per_day: float | None = Field(default=None, ge=0)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_DRIFT_", extra="ignore")

    port: int = 8004
    data_dir: Path = Path("var/drift")
    """Local checkpoints of the detector state (one file per partition)."""
    group_id: str = "adaptloop-drift"
    """Consumer group and faust app id (the topic prefix is put in front)."""
    detectors: dict[Signal, DetectorSpec] = Field(default_factory=dict)
    """JSON: per-signal overrides of the default detectors, e.g. `{"quality_error": {"kind": "HDDM_A"}}`."""
    adapter_detectors: dict[str, dict[Signal, DetectorSpec]] = Field(default_factory=dict)
    """JSON: per-adapter, per-signal detector overrides."""
    native_novelty: bool = True
    """Input novelty of ASCII prompts in the C extension where it is built; false: in Python (the same
    values, slower; to compare, or to rule the extension out)."""
    novelty_reference_prompts: int = 200
    max_adapters: int = 10_000
    """Adapters monitored per partition; events of further adapters go to the dead-letter topic."""
    checkpoint_interval_s: float = 2.0
    signal_processes: int = Field(default=0, ge=0)
    """Processes running the signal consumer (one group, partitions spread over them): 0 = one per core this
    process may use (within a container's CPU limit), at most the source topics' partitions (4); 1 = a thread of
    the worker, no child process."""
    stall_after_s: float = Field(default=120.0, gt=0)
    """A partition with lag whose position has not moved for this long makes the service not ready."""
    policy_window_s: float = 900.0
    policy_min_agreeing_signals: int = 2
    policy_cooldown_s: float = 3600.0
    policy_open_timeout_s: float = 6 * 3600.0
    policy_trigger_signals: list[Signal] = Field(
        default_factory=lambda: [s for s in Signal if s not in OPERATIONAL_SIGNALS])
    policy_budgets: dict[str, RetrainBudgetSetting] = Field(default_factory=dict)
    """JSON: retrain budget per adapter (`*` for the others), e.g.
    `{"*": {"retrains_per_day": 4}, "support": {"retrains_per_day": 2, "training_seconds_per_day": 1800}}`."""
    rollout_enabled: bool = True
    """Send the judge's verdicts to the registry (false: decide and report them, change nothing)."""
    rollout_alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    """Probability, over a whole trial however long it is watched, of a verdict against the truth."""
    rollout_tolerated_drop: float = Field(default=0.1, ge=0.0, le=2.0)
    """Non-inferiority margin on the mean rating ([-1, 1]): a smaller drop is not a regression."""
    rollout_min_rated_per_arm: int = Field(default=30, ge=2)
    rollout_graduate_after_requests: int = Field(default=500, ge=1)
    """A canary that served this many requests without a significant drop graduates."""
    rollout_guard_window_events: int = Field(default=1000, ge=1)
    """Ratings of a newly promoted version the guard watches before it stands down."""
    rollout_reference_events: int = Field(default=200, ge=2)
    """The guard's reference: the previous version's latest ratings before the move, at most this many."""
    rollout_tuned_for_events: int = Field(default=100, ge=1)
    """Sample size where the confidence sequences are tightest."""
    rollout_buffer_events: int = Field(default=200, ge=1)
    """Ratings remembered per version (at least `ROLLOUT_REFERENCE_EVENTS`), to seed trials."""
    rollout_join_logs: int = Field(default=10_000, ge=1)
    """Recent logs remembered per partition to attribute ratings to the version that served them."""
    rollout_join_wait_s: float = Field(default=60.0, ge=0.0)
    """A rating whose log was not seen within this much event time is attributed without it."""
    registry_url: str = "http://127.0.0.1:8002"
    registry_token: SecretStr | None = None
    """Token with role `trainer` for rollout decisions; without it verdicts are only reported."""
    registry_timeout_s: float = 10.0
    rollout_delivery_attempts: int = Field(default=8, ge=1)
    """Tries per decision on network errors and 5xx answers (exponential backoff up to 30 s)."""
    rebalance_timeout_s: float = 6.0
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    """After SIGTERM the process exits within this time even if faust's own shutdown hangs."""

    @property
    def app_id(self) -> str:
        return f"{self.topic_prefix}{self.group_id}"

    def signal_process_count(self) -> int:
        """`signal_processes`, or for 0 the cores this process may run on, at most the partitions of the
        source topics (a further consumer in the group would get none)."""
        if self.signal_processes:
            return self.signal_processes
        return max(1, min(usable_cores(), SIGNAL_PARTITIONS))

    def monitor_config(self) -> MonitorConfig:
        return MonitorConfig(
            detectors={**DEFAULT_DETECTORS, **self.detectors},
            overrides=self.adapter_detectors,
            novelty_reference_prompts=self.novelty_reference_prompts,
            served_logs=self.rollout_join_logs,
        )

    def rollout_config(self) -> RolloutConfig:
        return RolloutConfig(
            rules=TrialRules(
                alpha=self.rollout_alpha,
                tolerated_drop=self.rollout_tolerated_drop,
                min_rated_per_arm=self.rollout_min_rated_per_arm,
                graduate_after_requests=self.rollout_graduate_after_requests,
                guard_window_events=self.rollout_guard_window_events,
                tuned_for_events=self.rollout_tuned_for_events,
            ),
            reference_events=self.rollout_reference_events,
            buffer_events=max(self.rollout_buffer_events, self.rollout_reference_events),
            join_wait_s=self.rollout_join_wait_s,
            trigger_signals=frozenset(str(s) for s in self.policy_trigger_signals),
        )

    def policy_config(self) -> PolicyConfig:
        return PolicyConfig(
            window_s=self.policy_window_s,
            min_agreeing_signals=self.policy_min_agreeing_signals,
            cooldown_s=self.policy_cooldown_s,
            open_timeout_s=self.policy_open_timeout_s,
            trigger_signals=frozenset(str(s) for s in self.policy_trigger_signals),
            budgets={name: RetrainBudget(**b.model_dump()) for name, b in self.policy_budgets.items()},
        )
