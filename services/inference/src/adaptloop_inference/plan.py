"""The registry's serving plan as this service understands it: what each adapter name should serve."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PRODUCTION = "production"
CANARY = "canary"


@dataclass(frozen=True, order=True)
class VersionRef:
    """One immutable adapter version; `name@version` is also its name inside the engine."""

    name: str
    version: int

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class VersionArtifacts:
    weights_sha256: str
    config_sha256: str


@dataclass(frozen=True)
class AliasTarget:
    version: int
    weight: float | None = None


@dataclass(frozen=True)
class AdapterPlan:
    name: str
    base_model: str
    aliases: Mapping[str, AliasTarget] = field(default_factory=dict)
    versions: Mapping[int, VersionArtifacts] = field(default_factory=dict)


@dataclass(frozen=True)
class ServingPlan:
    adapters: Mapping[str, AdapterPlan] = field(default_factory=dict)

    def for_base(self, base_model: str) -> ServingPlan:
        """Only the adapters trained on `base_model`: a replica serves no other."""
        return ServingPlan({n: a for n, a in self.adapters.items() if a.base_model == base_model})
