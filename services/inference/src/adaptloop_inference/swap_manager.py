"""Loads adapter versions, switches the routing table atomically and unloads what nothing uses.

Protocol for a new version: verified files on disk -> loaded into the engine under a name
and integer id used by no other version -> routing table replaced in one assignment.
Requests already admitted hold their `LoraHandle` and finish on the version they started
on; a version leaves the engine only when no alias points at it and nothing is in flight.

A version registered for an adapter this replica serves is pre-loaded (`preload`) into one of
`preload_slots` standby slots, so the alias move that promotes it only replaces the table. The
oldest standby version leaves the engine when the slots are full.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace

from adaptloop_inference import metrics
from adaptloop_inference.adapter_cache import AdapterCache
from adaptloop_inference.errors import AdapterRejected, AdapterUnavailable
from adaptloop_inference.plan import AliasTarget, ServingPlan, VersionArtifacts, VersionRef
from adaptloop_inference.ports import LoraHandle, RegistryPort, TextEngine
from adaptloop_inference.routing import AdapterRoutes, Resolution, Route, RoutingTable

log = logging.getLogger(__name__)
tracer = trace.get_tracer("adaptloop.inference")


@dataclass(eq=False)
class LoadedVersion:
    handle: LoraHandle
    in_flight: int = 0


@dataclass(frozen=True)
class Admission:
    """A request's claim on what serves it; `release` it exactly once when the request ends."""

    resolution: Resolution
    loaded: LoadedVersion | None = None

    @property
    def lora(self) -> LoraHandle | None:
        return self.loaded.handle if self.loaded else None


@dataclass(frozen=True)
class LoadFailure:
    ref: VersionRef
    artifacts: VersionArtifacts
    kind: str
    reason: str
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SwapRecord:
    adapter: str
    alias: str
    from_version: int | None
    to_version: int | None
    at: float


class SwapManager:
    """Owns the routing table and the set of loaded versions; every method runs on one event loop."""

    def __init__(
        self, *, engine: TextEngine, cache: AdapterCache, registry: RegistryPort, base_model: str, replica_id: str,
        preload_slots: int = 0,
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._registry = registry
        self._replica_id = replica_id
        self._table = RoutingTable(base_model)
        self._loaded: dict[VersionRef, LoadedVersion] = {}
        self._failures: dict[tuple[VersionRef, VersionArtifacts], LoadFailure] = {}
        self._load_locks: dict[VersionRef, asyncio.Lock] = {}
        self._converge_lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._background: set[asyncio.Task[None]] = set()
        self._preload_slots = preload_slots
        self._standby: dict[VersionRef, None] = {}
        """Pre-loaded versions no alias points at yet, oldest first."""
        self.recent_swaps: list[SwapRecord] = []

    @property
    def table(self) -> RoutingTable:
        return self._table

    @property
    def loaded(self) -> dict[VersionRef, LoadedVersion]:
        return dict(self._loaded)

    @property
    def standby(self) -> list[VersionRef]:
        """Pre-loaded versions waiting for a promotion, oldest first."""
        return list(self._standby)

    @property
    def failures(self) -> list[LoadFailure]:
        return list(self._failures.values())

    async def admit(self, model: str, *, split_key: str) -> Admission:
        """Resolve `model` against the current table and hold the version until `release`."""
        table = self._table
        resolution = table.resolve(model, split_key=split_key)
        if resolution.ref is None:
            return Admission(resolution)
        entry = self._loaded.get(resolution.ref)
        if entry is None:
            entry = await self._load_pinned(resolution.ref, table)
        entry.in_flight += 1
        return Admission(resolution, entry)

    def release(self, admission: Admission) -> None:
        entry = admission.loaded
        if entry is None:
            return
        entry.in_flight -= 1
        if entry.in_flight == 0 and entry.handle.ref not in self._table.referenced():
            self._spawn(self._unload_if_idle(entry))

    async def _load_pinned(self, ref: VersionRef, table: RoutingTable) -> LoadedVersion:
        """`NAME@N` for a version no alias points at: loaded for the request, unloaded after it."""
        artifacts = table.adapters[ref.name].versions[ref.version]
        try:
            return await self._ensure_loaded(ref, artifacts)
        except AdapterRejected as exc:
            raise AdapterUnavailable(f"{ref} cannot be loaded: {exc.reason}") from exc

    async def _ensure_loaded(self, ref: VersionRef, artifacts: VersionArtifacts) -> LoadedVersion:
        async with self._load_locks.setdefault(ref, asyncio.Lock()):
            entry = self._loaded.get(ref)
            if entry is not None:
                return entry
            known = self._failures.get((ref, artifacts))
            if known is not None:
                raise AdapterRejected(known.reason, kind=known.kind)
            try:
                entry = await self._load(ref, artifacts)
            except AdapterRejected as exc:
                await self._record_failure(ref, artifacts, exc)
                raise
            self._loaded[ref] = entry
            metrics.LOADED_VERSIONS.set(len(self._loaded))
            return entry

    async def _load(self, ref: VersionRef, artifacts: VersionArtifacts) -> LoadedVersion:
        with tracer.start_as_current_span("load_adapter_version", attributes={"adapter": ref.name,
                                                                               "version": ref.version}):
            path = await self._cache.materialize(ref, artifacts)
            handle = LoraHandle(ref=ref, lora_id=next(self._ids), path=path)
            try:
                await self._engine.add_lora(handle)
            except Exception as exc:  # any engine refusal is a failed load, never a crash
                reason = f"engine refused {ref}: {type(exc).__name__}: {exc}"
                raise AdapterRejected(reason, kind="engine_error") from exc
        metrics.LOADS.inc()
        log.info("loaded adapter %s as lora id %d from %s", ref, handle.lora_id, path)
        return LoadedVersion(handle)

    async def _record_failure(self, ref: VersionRef, artifacts: VersionArtifacts, exc: AdapterRejected) -> None:
        metrics.LOAD_FAILURES.labels(exc.kind).inc()
        log.error("adapter %s not loaded (%s): %s", ref, exc.kind, exc.reason)
        if not exc.permanent:
            return
        self._failures[(ref, artifacts)] = LoadFailure(ref, artifacts, exc.kind, exc.reason)
        try:
            await self._registry.report_load_failure(ref, replica=self._replica_id, reason=f"{exc.kind}: {exc.reason}")
        except Exception as report_exc:  # the failure stays logged and counted locally
            log.warning("could not report the load failure of %s to the registry: %s", ref, report_exc)

    async def preload(self, ref: VersionRef, artifacts: VersionArtifacts) -> bool:
        """Load a registered version of a served adapter ahead of its promotion; True when it is loaded.

        Nothing happens without a free standby slot setting, for an adapter no alias serves here, or for a
        version already loaded. A refusal is recorded (and reported) as for any load; the move onto that
        version then keeps the previous one serving, as it would without the pre-load.
        """
        if self._preload_slots <= 0 or ref in self._loaded or not _served(self._table, ref.name):
            return ref in self._loaded
        try:
            entry = await self._ensure_loaded(ref, artifacts)
        except AdapterRejected:
            return False
        if ref not in self._table.referenced() and entry.in_flight == 0:
            if not _served(self._table, ref.name):
                await self._unload_if_idle(entry)
                return False
            self._standby[ref] = None
            metrics.PRELOADED_VERSIONS.set(len(self._standby))
            while len(self._standby) > self._preload_slots:
                await self._drop_standby(next(iter(self._standby)))
        return True

    async def _drop_standby(self, ref: VersionRef) -> None:
        self._standby.pop(ref, None)
        metrics.PRELOADED_VERSIONS.set(len(self._standby))
        entry = self._loaded.get(ref)
        if entry is not None:
            await self._unload_if_idle(entry)

    async def _prune_standby(self, table: RoutingTable) -> None:
        """Standby versions now routed leave the standby set; those of retired versions or unserved adapters
        are unloaded."""
        referenced = table.referenced()
        for ref in list(self._standby):
            routes = table.adapters.get(ref.name)
            if ref in referenced:
                self._standby.pop(ref, None)
            elif routes is None or ref.version not in routes.versions or not _served(table, ref.name):
                await self._drop_standby(ref)
        metrics.PRELOADED_VERSIONS.set(len(self._standby))

    async def converge(self, plan: ServingPlan, *, triggered_at: float | None = None) -> list[SwapRecord]:
        """Make the engine and the routing table match `plan`; returns the alias switches made."""
        async with self._converge_lock:
            with tracer.start_as_current_span("converge_serving_plan") as span:
                old = self._table
                plan = plan.for_base(old.base_model)
                adapters: dict[str, AdapterRoutes] = {}
                for name, adapter in plan.adapters.items():
                    routes: dict[str, Route] = {}
                    for alias, target in adapter.aliases.items():
                        ref = VersionRef(name, target.version)
                        routes[alias] = await self._route(ref, adapter.versions.get(target.version), alias, target, old)
                    adapters[name] = AdapterRoutes(name, routes, dict(adapter.versions))
                new = RoutingTable(old.base_model, adapters)
                self._table = new
                swaps = _switches(old, new)
                span.set_attribute("swaps", len(swaps))
                self._note_swaps(swaps, triggered_at)
                await self._prune_standby(new)
                await self._unload_unreferenced()
                return swaps

    async def _route(
        self, ref: VersionRef, artifacts: VersionArtifacts | None, alias: str, target: AliasTarget, old: RoutingTable,
    ) -> Route:
        try:
            if artifacts is None:
                raise AdapterRejected(f"the serving plan lists no artifacts for {ref}", kind="plan_incomplete",
                                      permanent=False)
            await self._ensure_loaded(ref, artifacts)
            return Route(ref.version, target.weight)
        except AdapterRejected as exc:
            previous = old.adapters.get(ref.name)
            kept = previous.aliases.get(alias) if previous else None
            if kept is not None and kept.version is not None:
                log.warning("%s:%s keeps serving version %s; version %s was refused", ref.name, alias,
                            kept.version, ref.version)
                return kept
            return Route(None, target.weight, unavailable_reason=exc.reason)

    def _note_swaps(self, swaps: list[SwapRecord], triggered_at: float | None) -> None:
        for swap in swaps:
            metrics.SWAPS.labels(swap.adapter, swap.alias).inc()
            log.info("routing %s:%s switched from %s to %s", swap.adapter, swap.alias, swap.from_version,
                     swap.to_version)
        if swaps and triggered_at is not None:
            metrics.SWAP_SECONDS.observe(max(0.0, time.monotonic() - triggered_at))
        self.recent_swaps = (self.recent_swaps + swaps)[-100:]

    async def _unload_unreferenced(self) -> None:
        for entry in list(self._loaded.values()):
            await self._unload_if_idle(entry)

    async def _unload_if_idle(self, entry: LoadedVersion) -> None:
        ref = entry.handle.ref
        if (entry.in_flight or ref in self._table.referenced() or ref in self._standby
                or self._loaded.get(ref) is not entry):
            return
        del self._loaded[ref]
        metrics.LOADED_VERSIONS.set(len(self._loaded))
        with tracer.start_as_current_span("unload_adapter_version", attributes={"adapter": ref.name,
                                                                                 "version": ref.version}):
            try:
                await self._engine.remove_lora(entry.handle.lora_id)
            except Exception as exc:  # a failed removal leaves an idle adapter, logged
                log.warning("engine could not remove %s (lora id %d): %s", ref, entry.handle.lora_id, exc)
                return
        metrics.UNLOADS.inc()
        log.info("unloaded adapter %s (lora id %d)", ref, entry.handle.lora_id)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _served(table: RoutingTable, name: str) -> bool:
    """Whether some alias of adapter `name` routes to a version on this replica."""
    routes = table.adapters.get(name)
    return routes is not None and any(r.version is not None for r in routes.aliases.values())


def _switches(old: RoutingTable, new: RoutingTable) -> list[SwapRecord]:
    now = time.time()
    out = []
    for name, routes in new.adapters.items():
        before = old.adapters.get(name)
        for alias, route in routes.aliases.items():
            previous = before.aliases.get(alias) if before else None
            if previous is None or previous.version != route.version:
                out.append(SwapRecord(name, alias, previous.version if previous else None, route.version, now))
    for name, before in old.adapters.items():
        after = new.adapters.get(name)
        for alias, route in before.aliases.items():
            if after is None or alias not in after.aliases:
                out.append(SwapRecord(name, alias, route.version, None, now))
    return out
