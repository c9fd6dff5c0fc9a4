"""Settings of the drift service: environment variables `ADAPTLOOP_DRIFT_*`."""

from __future__ import annotations

from pathlib import Path

from adaptloop_common.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from adaptloop_drift.detectors import DetectorSpec
from adaptloop_drift.monitor import DEFAULT_DETECTORS, MonitorConfig
from adaptloop_drift.policy import PolicyConfig
from adaptloop_drift.signals import OPERATIONAL_SIGNALS, Signal


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
    novelty_reference_prompts: int = 200
    max_adapters: int = 10_000
    """Adapters monitored per partition; events of further adapters go to the dead-letter topic."""
    checkpoint_interval_s: float = 2.0
    policy_window_s: float = 900.0
    policy_min_agreeing_signals: int = 2
    policy_cooldown_s: float = 3600.0
    policy_open_timeout_s: float = 6 * 3600.0
    policy_trigger_signals: list[Signal] = Field(
        default_factory=lambda: [s for s in Signal if s not in OPERATIONAL_SIGNALS])
    rebalance_timeout_s: float = 6.0
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    """After SIGTERM the process exits within this time even if faust's own shutdown hangs."""

    @property
    def app_id(self) -> str:
        return f"{self.topic_prefix}{self.group_id}"

    def monitor_config(self) -> MonitorConfig:
        return MonitorConfig(
            detectors={**DEFAULT_DETECTORS, **self.detectors},
            overrides=self.adapter_detectors,
            novelty_reference_prompts=self.novelty_reference_prompts,
        )

    def policy_config(self) -> PolicyConfig:
        return PolicyConfig(
            window_s=self.policy_window_s,
            min_agreeing_signals=self.policy_min_agreeing_signals,
            cooldown_s=self.policy_cooldown_s,
            open_timeout_s=self.policy_open_timeout_s,
            trigger_signals=frozenset(str(s) for s in self.policy_trigger_signals),
        )
