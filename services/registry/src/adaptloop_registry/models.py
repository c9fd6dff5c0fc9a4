"""Typed inputs of the registry's handlers: the HTTP bodies, defined in adaptloop_contracts.registry_requests."""

from adaptloop_contracts.registry_requests import (
    AdapterSpec,
    AliasMove,
    AliasName,
    BaseModelName,
    BaseModelSpec,
    ErasureFlags,
    EvaluationSpec,
    Label,
    LoadFailure,
    PolicyChange,
    PromotionMode,
    PromotionPolicy,
    Reason,
    ReasonBody,
    ServedReport,
    Sha256,
    SnapshotRef,
    VersionSpec,
    _Input,
)

__all__ = [
    "AdapterSpec", "AliasMove", "AliasName", "BaseModelName", "BaseModelSpec", "ErasureFlags", "EvaluationSpec",
    "Label", "LoadFailure", "PolicyChange", "PromotionMode", "PromotionPolicy", "Reason", "ReasonBody",
    "ServedReport", "Sha256", "SnapshotRef", "VersionSpec", "_Input",
]
