"""Registry events trigger a sync: applied to the last plan when they follow from it, else a fetched plan."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from adaptloop_contracts import RegistryEvent
from adaptloop_inference.adapter_cache import AdapterCache
from adaptloop_inference.adapter_files import AdapterLimits
from adaptloop_inference.errors import ModelNotFound
from adaptloop_inference.generation import GenerationRequest, GenerationService
from adaptloop_inference.plan import VersionArtifacts, VersionRef
from adaptloop_inference.ports import SamplingOptions
from adaptloop_inference.reconciler import Reconciler
from adaptloop_inference.swap_manager import SwapManager
from inference_fakes import FakeEngine, FakeRegistry


def _replica(tmp_path: Path, *, preload_slots: int = 0) -> tuple[FakeRegistry, FakeEngine, SwapManager, Reconciler]:
    registry, engine = FakeRegistry(tmp_path / "reg"), FakeEngine()
    cache = AdapterCache(tmp_path / "c", registry=registry, limits=AdapterLimits(16, frozenset({"q_proj", "v_proj"})))
    swaps = SwapManager(engine=engine, cache=cache, registry=registry, base_model="tiny", replica_id="r",
                        preload_slots=preload_slots)
    reconciler = Reconciler(swaps=swaps, registry=registry, cache=cache, base_model="tiny", interval_s=3600)
    return registry, engine, swaps, reconciler


async def test_events_wake_a_sync_and_registration_prefetches(tmp_path: Path) -> None:
    registry, _engine, swaps, reconciler = _replica(tmp_path)
    task = asyncio.create_task(reconciler.run())
    await asyncio.wait_for(reconciler.wait_synced(), 5)

    v1 = registry.publish("support", 1)
    reconciler.on_registry_event(RegistryEvent(event_type="adapter.version_registered", model="support", version=1,
                                               sha256=v1.weights_sha256, base_model="tiny",
                                               details={"config_sha256": v1.config_sha256}))
    for _ in range(100):
        if registry.downloads == 2:
            break
        await asyncio.sleep(0.01)
    assert registry.downloads == 2, "files fetched on registration, before any promotion"

    registry.set_plan({"support": ({"production": 1}, {1: v1})})
    reconciler.on_registry_event(RegistryEvent(event_type="adapter.alias_moved", model="support", version=1,
                                               alias="production"))
    for _ in range(100):
        if "support" in swaps.table.adapters:
            break
        await asyncio.sleep(0.01)
    assert swaps.table.resolve("support", split_key="u").header_value == "1"
    assert registry.downloads == 2, "the promotion reused the prefetched files"
    task.cancel()


async def test_a_request_for_a_version_just_registered_is_served_after_one_fresh_sync(tmp_path: Path) -> None:
    registry, engine, swaps, reconciler = _replica(tmp_path)
    task = asyncio.create_task(reconciler.run())
    await asyncio.wait_for(reconciler.wait_synced(), 5)
    service = GenerationService(engine=engine, swaps=swaps, logs=NullSink(), base_model="tiny",
                                is_ready=lambda: True, refresh_plan=lambda: reconciler.refresh(5))
    # Registered in the registry; its announcement has not reached this replica (no event at all here).
    v1 = registry.publish("support", 1)
    registry.set_plan({"support": ({}, {1: v1})})
    generation = await asyncio.wait_for(service.admit(_request("support@1")), 10)
    assert generation.served_version == "1"
    service.release_unstarted(generation)

    with pytest.raises(ModelNotFound, match="support has no version 9"):
        await service.admit(_request("support@9"))
    task.cancel()


async def test_refresh_gives_up_at_its_deadline_when_no_sync_runs(tmp_path: Path) -> None:
    reconciler = _replica(tmp_path)[3]
    assert await reconciler.refresh(0.05) is False  # the sync loop is not running


def _registered(name: str, version: int, files: VersionArtifacts) -> RegistryEvent:
    return RegistryEvent(event_type="adapter.version_registered", model=name, version=version, base_model="tiny",
                         sha256=files.weights_sha256, details={"config_sha256": files.config_sha256})


def _moved(name: str, previous: int | None, version: int, files: VersionArtifacts) -> RegistryEvent:
    return RegistryEvent(event_type="adapter.alias_moved", model=name, alias="production", version=version,
                         previous_version=previous, base_model="tiny", sha256=files.weights_sha256,
                         details={"config_sha256": files.config_sha256})


async def _until(predicate: Callable[[], bool]) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached within 5 s")


async def test_a_move_that_follows_from_the_last_plan_is_applied_without_a_fetch(tmp_path: Path) -> None:
    registry, engine, swaps, reconciler = _replica(tmp_path, preload_slots=2)
    v1, v2 = registry.publish("support", 1), registry.publish("support", 2)
    registry.set_plan({"support": ({"production": 1}, {1: v1})})
    task = asyncio.create_task(reconciler.run())
    await asyncio.wait_for(reconciler.wait_synced(), 5)
    fetches = registry.plan_fetches

    reconciler.on_registry_event(_registered("support", 2, v2))
    await _until(lambda: "support@2" in engine.loaded.values())
    assert swaps.standby == [VersionRef("support", 2)], "registered for a served adapter: pre-loaded"
    added = list(engine.added)

    reconciler.on_registry_event(_moved("support", 1, 2, v2))
    await _until(lambda: swaps.table.resolve("support", split_key="u").header_value == "2")
    assert registry.plan_fetches == fetches, "both announcements applied to the last plan"
    assert engine.added == added, "the promotion loaded nothing: it only switched the routing"
    await _until(lambda: sorted(engine.loaded.values()) == ["support@2"])
    assert swaps.standby == []
    task.cancel()


async def test_a_move_overtaken_by_a_fetched_plan_never_moves_the_alias_back(tmp_path: Path) -> None:
    registry, _engine, swaps, reconciler = _replica(tmp_path)
    v1, v2, v3 = (registry.publish("support", n) for n in (1, 2, 3))
    # The fetched plan already shows production at 3; the announcement of the move 1 -> 2 arrives late.
    registry.set_plan({"support": ({"production": 3}, {1: v1, 2: v2, 3: v3})})
    task = asyncio.create_task(reconciler.run())
    await asyncio.wait_for(reconciler.wait_synced(), 5)
    fetches = registry.plan_fetches

    reconciler.on_registry_event(_moved("support", 1, 2, v2))
    await _until(lambda: registry.plan_fetches > fetches)
    assert swaps.table.resolve("support", split_key="u").header_value == "3", "a move that does not chain fetches"

    syncs = reconciler._finished_syncs
    reconciler.on_registry_event(_moved("support", 2, 3, v3))
    await _until(lambda: reconciler._finished_syncs > syncs)
    assert swaps.table.resolve("support", split_key="u").header_value == "3"
    assert registry.plan_fetches == fetches + 1, "a move the plan already shows needs no fetch"
    task.cancel()


class NullSink:
    def submit(self, event: object, *, key: str, headers: list[tuple[str, bytes]]) -> bool:
        return True


def _request(model: str) -> GenerationRequest:
    return GenerationRequest(request_id="r1", kind="completion", model=model, prompt="hello",
                             options=SamplingOptions(max_tokens=4))
