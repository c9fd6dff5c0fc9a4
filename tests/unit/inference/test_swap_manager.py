"""The swap protocol: load under a fresh name and id, switch atomically, drain, unload, refuse bad versions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from adaptloop_inference.adapter_cache import AdapterCache
from adaptloop_inference.adapter_files import AdapterLimits
from adaptloop_inference.errors import AdapterUnavailable
from adaptloop_inference.plan import VersionRef
from adaptloop_inference.ports import SamplingOptions
from adaptloop_inference.swap_manager import SwapManager
from inference_fakes import FakeEngine, FakeRegistry

LIMITS = AdapterLimits(max_rank=16, supported_modules=frozenset({"q_proj", "k_proj", "v_proj", "o_proj"}))


@pytest.fixture
def registry(tmp_path: Path) -> FakeRegistry:
    return FakeRegistry(tmp_path / "registry")


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def swaps(tmp_path: Path, engine: FakeEngine, registry: FakeRegistry) -> SwapManager:
    cache = AdapterCache(tmp_path / "cache", registry=registry, limits=LIMITS)
    return SwapManager(engine=engine, cache=cache, registry=registry, base_model="tiny", replica_id="r1")


async def generate(engine: FakeEngine, swaps: SwapManager, model: str) -> tuple[str, str]:
    admission = await swaps.admit(model, split_key="u")
    try:
        text = ""
        async for chunk in engine.generate(request_id="r", prompt_text="p", prompt_ids=[1],
                                           options=SamplingOptions(max_tokens=64), lora=admission.lora):
            text += chunk.text
        return text, admission.resolution.header_value
    finally:
        swaps.release(admission)


async def test_promotion_loads_switches_and_unloads_the_old_version(
    swaps: SwapManager, engine: FakeEngine, registry: FakeRegistry,
) -> None:
    v1, v2 = registry.publish("support", 1), registry.publish("support", 2)
    registry.set_plan({"support": ({"production": 1}, {1: v1, 2: v2})})
    await swaps.converge(await registry.fetch_plan())
    assert await generate(engine, swaps, "support") == ("support@1", "1")

    registry.set_plan({"support": ({"production": 2}, {1: v1, 2: v2})})
    switches = await swaps.converge(await registry.fetch_plan())
    assert [(s.alias, s.from_version, s.to_version) for s in switches] == [("production", 1, 2)]
    assert await generate(engine, swaps, "support") == ("support@2", "2")
    assert sorted(engine.loaded.values()) == ["support@2"]


async def test_requests_admitted_on_the_old_version_finish_on_it(
    swaps: SwapManager, engine: FakeEngine, registry: FakeRegistry,
) -> None:
    v1, v2 = registry.publish("support", 1), registry.publish("support", 2)
    registry.set_plan({"support": ({"production": 1}, {1: v1, 2: v2})})
    await swaps.converge(registry.plan)
    engine.release.clear()
    in_flight = asyncio.create_task(generate(engine, swaps, "support"))
    await asyncio.sleep(0.01)
    registry.set_plan({"support": ({"production": 2}, {1: v1, 2: v2})})
    await swaps.converge(registry.plan)
    assert sorted(engine.loaded.values()) == ["support@1", "support@2"], "old version stays while in flight"
    engine.release.set()
    assert await in_flight == ("support@1", "1")
    await asyncio.sleep(0.01)
    assert sorted(engine.loaded.values()) == ["support@2"]


async def test_each_load_gets_a_new_lora_id(swaps: SwapManager, engine: FakeEngine, registry: FakeRegistry) -> None:
    v1, v2 = registry.publish("support", 1), registry.publish("support", 2)
    for target in (1, 2, 1, 2):
        registry.set_plan({"support": ({"production": target}, {1: v1, 2: v2})})
        await swaps.converge(registry.plan)
    assert engine.added == ["support@1", "support@2", "support@1", "support@2"]
    assert len(engine.loaded) == 1


async def test_a_refused_version_leaves_the_previous_one_serving_and_is_reported_once(
    swaps: SwapManager, engine: FakeEngine, registry: FakeRegistry,
) -> None:
    v1 = registry.publish("support", 1)
    v2 = registry.publish("support", 2, rank=64)
    registry.set_plan({"support": ({"production": 1}, {1: v1, 2: v2})})
    await swaps.converge(registry.plan)
    registry.set_plan({"support": ({"production": 2}, {1: v1, 2: v2})})
    for _ in range(3):
        await swaps.converge(registry.plan)
    assert await generate(engine, swaps, "support") == ("support@1", "1")
    assert len(registry.reports) == 1 and "rank 64" in registry.reports[0][1]
    assert [f.kind for f in swaps.failures] == ["rank_too_large"]


async def test_a_version_the_engine_refuses_is_a_failed_load(
    swaps: SwapManager, engine: FakeEngine, registry: FakeRegistry,
) -> None:
    v1, v2 = registry.publish("support", 1), registry.publish("support", 2)
    engine.refuse.add("support@2")
    registry.set_plan({"support": ({"production": 1}, {1: v1, 2: v2})})
    await swaps.converge(registry.plan)
    registry.set_plan({"support": ({"production": 2}, {1: v1, 2: v2})})
    await swaps.converge(registry.plan)
    assert await generate(engine, swaps, "support") == ("support@1", "1")
    assert swaps.failures[0].kind == "engine_error"


async def test_a_refused_first_version_makes_the_alias_unavailable(
    swaps: SwapManager, registry: FakeRegistry,
) -> None:
    bad = registry.publish("support", 1, modules=("q_proj", "lm_head"))
    registry.set_plan({"support": ({"production": 1}, {1: bad})})
    await swaps.converge(registry.plan)
    with pytest.raises(AdapterUnavailable):
        await swaps.admit("support", split_key="u")


async def test_a_pinned_version_is_loaded_for_the_request_and_unloaded_after(
    swaps: SwapManager, engine: FakeEngine, registry: FakeRegistry,
) -> None:
    v1, v2 = registry.publish("support", 1), registry.publish("support", 2)
    registry.set_plan({"support": ({"production": 1}, {1: v1, 2: v2})})
    await swaps.converge(registry.plan)
    assert await generate(engine, swaps, "support@2") == ("support@2", "2")
    await asyncio.sleep(0.01)
    assert sorted(engine.loaded.values()) == ["support@1"]


async def test_adapters_of_another_base_model_are_not_served(swaps: SwapManager, registry: FakeRegistry) -> None:
    v1 = registry.publish("other", 1)
    registry.set_plan({"other": ({"production": 1}, {1: v1})}, base_model="bigger-model")
    await swaps.converge(registry.plan)
    assert swaps.table.model_ids() == ["tiny"]


async def test_retired_versions_leave_the_table_and_the_engine(
    swaps: SwapManager, engine: FakeEngine, registry: FakeRegistry,
) -> None:
    v1, v2 = registry.publish("support", 1), registry.publish("support", 2)
    registry.set_plan({"support": ({"production": 1, "staging": 2}, {1: v1, 2: v2})})
    await swaps.converge(registry.plan)
    assert len(engine.loaded) == 2
    registry.set_plan({"support": ({"production": 1}, {1: v1})})
    await swaps.converge(registry.plan)
    assert sorted(engine.loaded.values()) == ["support@1"]
    assert VersionRef("support", 2) not in swaps.loaded
    assert "support@2" not in swaps.table.model_ids()


def _preloading(tmp_path: Path, engine: FakeEngine, registry: FakeRegistry, slots: int) -> SwapManager:
    cache = AdapterCache(tmp_path / "preload-cache", registry=registry, limits=LIMITS)
    return SwapManager(engine=engine, cache=cache, registry=registry, base_model="tiny", replica_id="r1",
                       preload_slots=slots)


async def test_preloaded_versions_are_bounded_by_the_slots_and_a_promotion_only_switches(
    tmp_path: Path, engine: FakeEngine, registry: FakeRegistry,
) -> None:
    swaps = _preloading(tmp_path, engine, registry, slots=2)
    files = {n: registry.publish("support", n) for n in (1, 2, 3, 4)}
    registry.set_plan({"support": ({"production": 1}, {1: files[1]})})
    await swaps.converge(registry.plan)
    for n in (2, 3, 4):
        assert await swaps.preload(VersionRef("support", n), files[n])
    assert swaps.standby == [VersionRef("support", 3), VersionRef("support", 4)], "the oldest left its slot"
    assert sorted(engine.loaded.values()) == ["support@1", "support@3", "support@4"]

    added = list(engine.added)
    registry.set_plan({"support": ({"production": 4}, files)})
    await swaps.converge(registry.plan)
    assert engine.added == added, "the promoted version was loaded already"
    assert await generate(engine, swaps, "support") == ("support@4", "4")
    assert swaps.standby == [VersionRef("support", 3)]
    assert sorted(engine.loaded.values()) == ["support@3", "support@4"]

    registry.set_plan({"support": ({"production": 4}, {4: files[4]})})  # version 3 retired
    await swaps.converge(registry.plan)
    assert swaps.standby == []
    assert sorted(engine.loaded.values()) == ["support@4"]


async def test_nothing_is_preloaded_for_an_adapter_not_served_or_without_slots(
    tmp_path: Path, engine: FakeEngine, registry: FakeRegistry,
) -> None:
    files = {n: registry.publish("support", n) for n in (1, 2)}
    swaps = _preloading(tmp_path, engine, registry, slots=2)
    assert not await swaps.preload(VersionRef("support", 1), files[1]), "no alias serves it here"
    registry.set_plan({"support": ({"production": 1}, {1: files[1]})})
    await swaps.converge(registry.plan)
    unslotted = _preloading(tmp_path, FakeEngine(), registry, slots=0)
    await unslotted.converge(registry.plan)
    assert not await unslotted.preload(VersionRef("support", 2), files[2])
    assert engine.added == ["support@1"]
