"""Answer bodies of the drift service's HTTP API: detector, policy and rollout-judge state, signal series, pause.

The policy's and the rollout judge's per-adapter state are reported as they keep it (`dict`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from adaptloop_contracts.http_common import Answer


class DetectorState(Answer):
    """One signal's detector: what it watches, how far it got, its alarms and its coded recent and baseline means."""

    kind: str
    """The detector (`ADWIN`, `KSWIN`, `PageHinkley`, ...)."""
    encoding: str | None = None
    observations: int = 0
    warming_up: bool = False
    alarms: int = 0
    recent_mean_coded: float | None = None
    baseline_mean_coded: float | None = None


class VersionDriftState(Answer):
    """One adapter version monitored on this worker: events seen, the novelty reference, each detector, ratings."""

    adapter: str
    adapter_version: int | None = None
    logs: int = 0
    ratings: int = 0
    novelty_reference: dict[str, Any] = Field(default_factory=dict)
    detectors: dict[str, DetectorState] = Field(default_factory=dict)
    """signal -> its detector's state."""
    rating: dict[str, Any] = Field(default_factory=dict)


class RolloutView(Answer):
    settings: dict[str, Any]
    """The judge's rules and whether it sends its decisions."""
    adapters: list[dict[str, Any]]
    """The judge's state per adapter."""


class DriftState(Answer):
    """`GET /v1/state`: every version's detectors, the policy state per adapter, and the rollout judge's."""

    adapters: list[VersionDriftState]
    policy: dict[str, dict[str, Any]]
    """adapter -> its policy state (`paused`, `held_back`: a retrain the budget held back, and why, ...)."""
    rollout: RolloutView


class AdapterDriftState(Answer):
    """`GET /v1/adapters/{name}/state`."""

    adapter: str
    versions: list[VersionDriftState]
    policy: dict[str, Any] | None
    rollout: dict[str, Any] | None


class VersionSignals(Answer):
    """One version's signal series: per signal its coded recent and baseline means over time and its alarms."""

    adapter: str
    adapter_version: int | None = None
    logs: int = 0
    ratings: int = 0
    signals: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rating: dict[str, Any] = Field(default_factory=dict)


class AdapterSignals(Answer):
    """`GET /v1/adapters/{name}/signals`; each point is `[at, observations, recent, baseline]` (`columns`)."""

    adapter: str
    columns: list[str]
    versions: list[VersionSignals]


class PauseAccepted(Answer):
    """`POST /v1/adapters/{name}/pause|resume` (202): the command is on its way to the policy agent."""

    adapter: str
    paused: bool
    detail: str = "applied when the policy agent consumes the command (normally within a second)"
