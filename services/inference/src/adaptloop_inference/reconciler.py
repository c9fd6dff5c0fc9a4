"""Keeps the replica converged on the registry's serving plan.

The serving plan fetched from the registry is the truth: a replica that missed events (down,
partitioned, started late) converges on the next periodic sync without help. Between fetches,
an announcement that follows from the last plan is applied to it without a fetch: a version
registered for a known adapter, or an alias move whose `previous_version` is where the alias
points in that plan (a compare-and-set, so an announcement overtaken by a fetched plan never
moves an alias back). Anything else (a retirement, an unknown adapter, a move that does not
chain, missing file hashes) fetches the whole plan, as every periodic sync and every refresh do.
"""

from __future__ import annotations

import asyncio
import logging
import time

from adaptloop_contracts import RegistryEvent
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link

from adaptloop_inference import metrics
from adaptloop_inference.adapter_cache import AdapterCache
from adaptloop_inference.errors import AdapterRejected
from adaptloop_inference.plan import AliasTarget, ServingPlan, VersionArtifacts, VersionRef
from adaptloop_inference.ports import RegistryPort
from adaptloop_inference.swap_manager import SwapManager

tracer = trace.get_tracer("adaptloop.inference")

log = logging.getLogger(__name__)

TRIGGERING_EVENTS = frozenset({"adapter.alias_moved", "adapter.version_registered", "adapter.version_retired"})
RETRY_DELAY_S = 1.0


class Reconciler:
    """Fetches the plan at start and every `interval_s` seconds; applies relevant registry events in between."""

    def __init__(
        self, *, swaps: SwapManager, registry: RegistryPort, cache: AdapterCache, base_model: str, interval_s: float,
    ) -> None:
        self._swaps = swaps
        self._registry = registry
        self._cache = cache
        self._base_model = base_model
        self._interval_s = interval_s
        self._wake = asyncio.Event()
        self._pending_since: float | None = None
        self._pending_links: list[Link] = []
        """The announcements that asked for the next sync: its swaps link to their traces."""
        self._synced = asyncio.Event()
        self._started_syncs = 0
        self._finished_syncs = 0
        self._finished = asyncio.Condition()
        self._prefetches: set[asyncio.Task[None]] = set()
        self._plan: ServingPlan | None = None
        """The plan last converged on: fetched, plus the announcements applied since."""
        self._pending_events: list[RegistryEvent] = []
        self._fetch_needed = True
        self.last_sync_at: float | None = None
        self.last_error: str | None = None

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def on_registry_event(self, event: RegistryEvent, context: Context | None = None) -> None:
        """Called on the event loop for every event of `registry.events`."""
        if event.event_type == "adapter.version_registered":
            self._prefetch(event)
        if event.event_type in TRIGGERING_EVENTS:
            origin = trace.get_current_span(context).get_span_context() if context is not None else None
            if origin is not None and origin.is_valid:
                self._pending_links.append(Link(origin, {"adaptloop.event_id": str(event.event_id)}))
            self._pending_events.append(event)
            self._wake_up()

    def request_sync(self) -> None:
        """Fetch the whole plan at the next sync (now, unless one is running)."""
        self._fetch_needed = True
        self._wake_up()

    def _wake_up(self) -> None:
        if self._pending_since is None:
            self._pending_since = time.monotonic()
        self._wake.set()

    async def refresh(self, timeout_s: float) -> bool:
        """Sync now and wait for a sync that started after this call; False on timeout or failure.

        A request naming a version this replica has not heard of yet (registered a moment ago,
        its announcement still on the way) calls this once before answering 404. Concurrent
        callers share the same sync, so a burst of unknown names costs one plan fetch at a time.
        """
        target = self._started_syncs + 1
        self.request_sync()

        async def finished() -> None:
            async with self._finished:
                await self._finished.wait_for(lambda: self._finished_syncs >= target)

        try:
            await asyncio.wait_for(finished(), timeout=timeout_s)
        except TimeoutError:
            return False
        return self.last_error is None

    async def sync_once(self) -> None:
        triggered_at = self._pending_since or time.monotonic()
        links, self._pending_links = self._pending_links, []
        events, self._pending_events = self._pending_events, []
        fetch, self._fetch_needed = self._fetch_needed, False
        self._pending_since = None
        self._wake.clear()
        self._started_syncs += 1
        try:
            with tracer.start_as_current_span("sync_serving_plan", links=links) as span:
                plan = None if fetch else self._applied(events)
                span.set_attribute("adaptloop.plan_fetched", plan is None)
                fetched = plan is None
                if plan is None:
                    plan = await self._registry.fetch_plan()
                await self._swaps.converge(plan, triggered_at=triggered_at)
                self._plan = plan
        except Exception as exc:
            self._pending_since = self._pending_since or triggered_at
            self._fetch_needed = True
            self.last_error = f"{type(exc).__name__}: {exc}"
            metrics.SYNCS.labels("failed").inc()
            raise
        else:
            if fetched:
                self.last_error = None
                self.last_sync_at = time.time()
            metrics.SYNCS.labels("ok" if fetched else "from_event").inc()
            self._synced.set()
        finally:
            await self._mark_finished()

    async def _mark_finished(self) -> None:
        async with self._finished:
            self._finished_syncs += 1
            self._finished.notify_all()

    async def run(self) -> None:
        """Forever: sync, then sleep until the interval passes or an event asks for a sync."""
        self.request_sync()
        while True:
            try:
                await self.sync_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # logged; the next round retries
                log.warning("serving plan sync failed: %s", self.last_error)
                await asyncio.sleep(RETRY_DELAY_S)
                if self._pending_since is not None:
                    continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval_s)
            except TimeoutError:
                self.request_sync()

    def _applied(self, events: list[RegistryEvent]) -> ServingPlan | None:
        """The last plan with `events` applied in order; None when one of them does not follow from it."""
        plan = self._plan
        for event in events:
            if plan is None:
                return None
            plan = _apply(plan, event)
        return plan

    def _prefetch(self, event: RegistryEvent) -> None:
        """Fetch a new version's files as soon as it is registered and, for an adapter this replica serves,
        load it into a standby slot, so a promotion only switches the routing."""
        config_sha = event.details.get("config_sha256")
        if not (event.version and event.sha256 and isinstance(config_sha, str)):
            return
        if event.base_model not in (None, self._base_model):
            return
        ref = VersionRef(event.model, event.version)
        artifacts = VersionArtifacts(event.sha256, config_sha)

        async def fetch() -> None:
            try:
                await self._cache.materialize(ref, artifacts)
                await self._swaps.preload(ref, artifacts)
            except AdapterRejected as exc:
                log.info("prefetch of %s refused (%s); the sync will report it if it is promoted", ref, exc.reason)
            except Exception as exc:  # a prefetch is only an optimisation
                log.info("prefetch of %s failed: %s", ref, exc)

        task = asyncio.ensure_future(fetch())
        self._prefetches.add(task)
        task.add_done_callback(self._prefetches.discard)


def _apply(plan: ServingPlan, event: RegistryEvent) -> ServingPlan | None:
    """`plan` after one announcement, or None when the plan must be fetched instead."""
    config_sha = event.details.get("config_sha256")
    artifacts = (VersionArtifacts(event.sha256, config_sha)
                 if event.sha256 and isinstance(config_sha, str) else None)
    if event.event_type == "adapter.version_registered" and event.version and artifacts is not None:
        return plan.with_version(VersionRef(event.model, event.version), artifacts)
    if event.event_type == "adapter.alias_moved" and event.alias:
        target = AliasTarget(event.version, event.weight) if event.version else None
        return plan.with_alias(event.model, event.alias, previous=event.previous_version, target=target,
                               artifacts=artifacts)
    return None
