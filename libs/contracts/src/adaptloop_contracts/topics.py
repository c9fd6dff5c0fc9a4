"""Topic names, their partition counts, and which event type each carries."""

from __future__ import annotations

from dataclasses import dataclass

from adaptloop_contracts.base import Event, InvalidEvent
from adaptloop_contracts.drift import DRIFT_DETECTED, DriftDetected
from adaptloop_contracts.inference import INFERENCE_FEEDBACK, INFERENCE_LOGS, InferenceFeedback, InferenceLog
from adaptloop_contracts.registry import REGISTRY_EVENTS, RegistryEvent
from adaptloop_contracts.retrain import RETRAIN_REQUESTED, RetrainRequested
from adaptloop_contracts.training import TRAINING_EVENTS, TrainingEvent

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    event_cls: type[Event]
    partitions: int


TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        TopicSpec(INFERENCE_LOGS, InferenceLog, 4),
        TopicSpec(INFERENCE_FEEDBACK, InferenceFeedback, 4),
        TopicSpec(DRIFT_DETECTED, DriftDetected, 4),
        TopicSpec(RETRAIN_REQUESTED, RetrainRequested, 4),
        TopicSpec(TRAINING_EVENTS, TrainingEvent, 4),
        TopicSpec(REGISTRY_EVENTS, RegistryEvent, 4),
    )
}


@dataclass(frozen=True)
class TopicNames:
    """Resolves a contract topic name to the name on the broker (a prefix isolates deployments and tests)."""

    prefix: str = ""

    def __call__(self, base: str) -> str:
        if base not in TOPICS and not base.endswith(DLQ_SUFFIX):
            raise KeyError(f"unknown topic {base!r}")
        return f"{self.prefix}{base}"

    def dlq(self, base: str) -> str:
        return self(base) + DLQ_SUFFIX

    def base_of(self, actual: str) -> str:
        if not actual.startswith(self.prefix):
            raise KeyError(f"topic {actual!r} lacks prefix {self.prefix!r}")
        return actual[len(self.prefix) :]

    def all_with_partitions(self) -> dict[str, int]:
        """Every topic of the contract and its dead-letter topic, as broker names."""
        out: dict[str, int] = {}
        for spec in TOPICS.values():
            out[self(spec.name)] = spec.partitions
            out[self.dlq(spec.name)] = 1
        return out


def decode_for_topic(base: str, raw: bytes | None) -> Event:
    spec = TOPICS.get(base)
    if spec is None:
        raise InvalidEvent(f"no contract for topic {base!r}")
    return spec.event_cls.from_json_bytes(raw)
