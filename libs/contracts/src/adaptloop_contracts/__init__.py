"""Every message shape of adaptloop, next to the topic it travels on."""

from adaptloop_contracts.base import AdapterName, Event, InvalidEvent, ModelName, adapter_of, new_event_id, utc_now
from adaptloop_contracts.drift import DriftDetected, SetPaused
from adaptloop_contracts.inference import InferenceFeedback, InferenceLog, tool_calls_text
from adaptloop_contracts.registry import RegistryEvent, RegistryEventType
from adaptloop_contracts.registry_api import (
    ApprovalAnswer,
    PendingApproval,
    RolloutAction,
    RolloutDecision,
    RolloutDecisionAnswer,
    ServingReport,
    ServingReportAnswer,
)
from adaptloop_contracts.retrain import RetrainRequested
from adaptloop_contracts.topics import TOPICS, TopicNames, TopicSpec, decode_for_topic
from adaptloop_contracts.training import TrainingEvent, TrainingState

__all__ = [
    "TOPICS",
    "AdapterName",
    "ApprovalAnswer",
    "DriftDetected",
    "Event",
    "InferenceFeedback",
    "InferenceLog",
    "InvalidEvent",
    "ModelName",
    "PendingApproval",
    "RegistryEvent",
    "RegistryEventType",
    "RetrainRequested",
    "RolloutAction",
    "RolloutDecision",
    "RolloutDecisionAnswer",
    "ServingReport",
    "ServingReportAnswer",
    "SetPaused",
    "TopicNames",
    "TopicSpec",
    "TrainingEvent",
    "TrainingState",
    "adapter_of",
    "decode_for_topic",
    "new_event_id",
    "tool_calls_text",
    "utc_now",
]
