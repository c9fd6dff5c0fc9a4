"""The routing table: which loaded version each adapter name and alias serves right now.

A table is immutable; a swap builds a new one and replaces the reference in one step, so a
request resolves against one consistent table from start to end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from adaptloop_inference.errors import AdapterUnavailable, ModelNotFound
from adaptloop_inference.plan import CANARY, PRODUCTION, VersionArtifacts, VersionRef


@dataclass(frozen=True)
class Route:
    """Where an alias sends traffic: a loaded version, or nothing with the reason."""

    version: int | None
    weight: float | None = None
    unavailable_reason: str | None = None


@dataclass(frozen=True)
class AdapterRoutes:
    name: str
    aliases: Mapping[str, Route] = field(default_factory=dict)
    versions: Mapping[int, VersionArtifacts] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolution:
    """What serves a request: `ref` None means the base model without adapter."""

    ref: VersionRef | None
    alias: str | None = None

    @property
    def header_value(self) -> str:
        return "base" if self.ref is None else str(self.ref.version)


@dataclass(frozen=True)
class RoutingTable:
    base_model: str
    adapters: Mapping[str, AdapterRoutes] = field(default_factory=dict)

    def referenced(self) -> frozenset[VersionRef]:
        """Versions some alias points at: these stay loaded."""
        return frozenset(
            VersionRef(a.name, r.version) for a in self.adapters.values() for r in a.aliases.values() if r.version
        )

    def model_ids(self) -> list[str]:
        """Every name a client may ask for: base model, adapters, their aliases and versions."""
        ids = [self.base_model]
        for name in sorted(self.adapters):
            routes = self.adapters[name]
            ids.append(name)
            ids.extend(f"{name}:{alias}" for alias in sorted(routes.aliases))
            ids.extend(f"{name}@{v}" for v in sorted(routes.versions))
        return ids

    def resolve(self, model: str, *, split_key: str) -> Resolution:
        """Map a client's model name to a version; raises ModelNotFound or AdapterUnavailable."""
        if model == self.base_model:
            return Resolution(None)
        if "@" in model:
            name, _, number = model.partition("@")
            routes = self._adapter(name, model)
            if not number.isdigit() or int(number) not in routes.versions:
                raise ModelNotFound(f"The model `{model}` does not exist: {name} has no version {number}")
            return Resolution(VersionRef(name, int(number)))
        if ":" in model:
            name, _, alias = model.partition(":")
            routes = self._adapter(name, model)
            route = routes.aliases.get(alias)
            if route is None:
                raise ModelNotFound(f"The model `{model}` does not exist: {name} has no alias {alias!r}")
            return Resolution(_routed(name, alias, route), alias)
        routes = self._adapter(model, model)
        return _resolve_default(routes, split_key)

    def _adapter(self, name: str, model: str) -> AdapterRoutes:
        routes = self.adapters.get(name)
        if routes is None:
            raise ModelNotFound(f"The model `{model}` does not exist")
        return routes


def _routed(name: str, alias: str, route: Route) -> VersionRef:
    if route.version is None:
        raise AdapterUnavailable(f"{name}:{alias} is not servable on this replica: {route.unavailable_reason}")
    return VersionRef(name, route.version)


def _resolve_default(routes: AdapterRoutes, split_key: str) -> Resolution:
    """`NAME`: production, with a weighted canary share; the base model when there is no production yet."""
    canary = routes.aliases.get(CANARY)
    if (canary is not None and canary.version is not None and canary.weight
            and canary_bucket(routes.name, split_key) < canary.weight):
        return Resolution(VersionRef(routes.name, canary.version), CANARY)
    production = routes.aliases.get(PRODUCTION)
    if production is None:
        return Resolution(None, PRODUCTION)
    return Resolution(_routed(routes.name, PRODUCTION, production), PRODUCTION)


def canary_bucket(name: str, key: str) -> float:
    """A stable number in [0, 1) per (adapter, user): the same user always lands on the same side."""
    digest = hashlib.sha256(f"{name}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
