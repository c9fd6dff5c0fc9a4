"""Keeps the replica converged on the registry's serving plan.

Registry events only say "something changed, look now"; the serving plan fetched afterwards
is the truth, so a replica that missed events (down, partitioned, started late) converges
on the next periodic sync without help, and events never race a stale plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from adaptloop_contracts import RegistryEvent
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link

from adaptloop_inference import metrics
from adaptloop_inference.adapter_cache import AdapterCache
from adaptloop_inference.errors import AdapterRejected
from adaptloop_inference.plan import VersionArtifacts, VersionRef
from adaptloop_inference.ports import RegistryPort
from adaptloop_inference.swap_manager import SwapManager

tracer = trace.get_tracer("adaptloop.inference")

log = logging.getLogger(__name__)

TRIGGERING_EVENTS = frozenset({"adapter.alias_moved", "adapter.version_registered", "adapter.version_retired"})
RETRY_DELAY_S = 1.0


class Reconciler:
    """Syncs at start, on every relevant registry event and every `interval_s` seconds."""

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
            self.request_sync()

    def request_sync(self) -> None:
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
        self._pending_since = None
        self._wake.clear()
        self._started_syncs += 1
        try:
            with tracer.start_as_current_span("sync_serving_plan", links=links):
                plan = await self._registry.fetch_plan()
                await self._swaps.converge(plan, triggered_at=triggered_at)
        except Exception as exc:
            self._pending_since = self._pending_since or triggered_at
            self.last_error = f"{type(exc).__name__}: {exc}"
            metrics.SYNCS.labels("failed").inc()
            raise
        else:
            self.last_error = None
            self.last_sync_at = time.time()
            metrics.SYNCS.labels("ok").inc()
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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval_s)

    def _prefetch(self, event: RegistryEvent) -> None:
        """Fetch a new version's files as soon as it is registered, so a promotion only loads."""
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
            except AdapterRejected as exc:
                log.info("prefetch of %s refused (%s); the sync will report it if it is promoted", ref, exc.reason)
            except Exception as exc:  # a prefetch is only an optimisation
                log.info("prefetch of %s failed: %s", ref, exc)

        task = asyncio.ensure_future(fetch())
        self._prefetches.add(task)
        task.add_done_callback(self._prefetches.discard)
