"""The registry's serving plan as this service understands it: what each adapter name should serve."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

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

    def with_version(self, ref: VersionRef, artifacts: VersionArtifacts) -> ServingPlan | None:
        """This plan plus a newly registered version; None when it does not follow from this plan
        (unknown adapter, or the version known with other files): the caller fetches the plan instead."""
        adapter = self.adapters.get(ref.name)
        if adapter is None:
            return None
        known = adapter.versions.get(ref.version)
        if known is not None:
            return self if known == artifacts else None
        versions = {**adapter.versions, ref.version: artifacts}
        return self._replace(replace(adapter, versions=versions))

    def with_alias(
        self, name: str, alias: str, *, previous: int | None, target: AliasTarget | None,
        artifacts: VersionArtifacts | None,
    ) -> ServingPlan | None:
        """This plan after `alias` of `name` moved from `previous` to `target` (None: removed), as a
        compare-and-set: None when the alias does not point at `previous` here (an announcement missed
        or overtaken by a fetched plan) or the target's files are unknown; the caller fetches the plan.
        A move this plan already shows returns the plan unchanged."""
        adapter = self.adapters.get(name)
        if adapter is None:
            return None
        current = adapter.aliases.get(alias)
        if current == target:
            return self
        if (current.version if current is not None else None) != previous:
            return None
        versions = dict(adapter.versions)
        if target is not None:
            known = versions.get(target.version)
            if artifacts is None or (known is not None and known != artifacts):
                return None
            versions[target.version] = artifacts
        aliases = {a: t for a, t in adapter.aliases.items() if a != alias}
        if target is not None:
            aliases[alias] = target
        return self._replace(replace(adapter, aliases=aliases, versions=versions))

    def _replace(self, adapter: AdapterPlan) -> ServingPlan:
        return ServingPlan({**self.adapters, adapter.name: adapter})
