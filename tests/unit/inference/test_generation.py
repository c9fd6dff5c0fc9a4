"""A request is admitted on one version, released at the end, and logged with its measurements."""

from __future__ import annotations

from pathlib import Path

import pytest
from adaptloop_contracts import InferenceLog
from adaptloop_inference.adapter_cache import AdapterCache
from adaptloop_inference.adapter_files import AdapterLimits
from adaptloop_inference.errors import InvalidRequest, ModelNotFound, NotReady
from adaptloop_inference.generation import GenerationRequest, GenerationService
from adaptloop_inference.ports import SamplingOptions
from adaptloop_inference.swap_manager import SwapManager
from inference_fakes import FakeEngine, FakeRegistry


class ListSink:
    def __init__(self) -> None:
        self.events: list[tuple[InferenceLog, str]] = []

    def submit(self, event: InferenceLog, *, key: str, headers: list[tuple[str, bytes]]) -> bool:
        self.events.append((event, key))
        return True


Setup = tuple[GenerationService, SwapManager, ListSink]


@pytest.fixture
async def setup(tmp_path: Path) -> Setup:
    registry, engine, sink = FakeRegistry(tmp_path / "reg"), FakeEngine(), ListSink()
    v1 = registry.publish("support", 1)
    registry.set_plan({"support": ({"production": 1}, {1: v1})})
    limits = AdapterLimits(16, frozenset({"q_proj", "v_proj"}))
    swaps = SwapManager(engine=engine, cache=AdapterCache(tmp_path / "c", registry=registry, limits=limits),
                        registry=registry, base_model="tiny", replica_id="r")
    await swaps.converge(registry.plan)
    return GenerationService(engine=engine, swaps=swaps, logs=sink, base_model="tiny", is_ready=lambda: True), \
        swaps, sink


def request(model: str, **kwargs: object) -> GenerationRequest:
    return GenerationRequest(request_id="req-1", kind="chat", model=model, options=SamplingOptions(max_tokens=32),
                             messages=[{"role": "user", "content": "hi"}], **kwargs)  # type: ignore[arg-type]


async def test_a_finished_request_is_logged_and_released(setup: Setup) -> None:
    service, swaps, sink = setup
    generation = await service.admit(request("support:production", user="alice", tenant="acme"))
    assert generation.served_version == "1"
    text = "".join([chunk.text async for chunk in service.run(generation)])
    assert text == "support@1"
    assert all(e.in_flight == 0 for e in swaps.loaded.values())
    event, key = sink.events[0]
    assert key == "support"
    assert (event.model, event.adapter_version, event.tenant, event.completion) == (
        "support:production", 1, "acme", "support@1")
    assert event.prompt == "<user>hi<assistant>" and event.completion_tokens == len("support@1")
    assert event.mean_logprob == pytest.approx(-0.5)
    assert event.metadata["alias"] == "production" and event.metadata["user"] == "alice"


async def test_base_model_requests_log_no_version(setup: Setup) -> None:
    service, _, sink = setup
    generation = await service.admit(request("tiny"))
    [chunk async for chunk in service.run(generation)]
    assert generation.served_version == "base" and sink.events[0][0].adapter_version is None
    assert sink.events[0][1] == "tiny"


async def test_refusals(setup: Setup) -> None:
    service, swaps, sink = setup
    with pytest.raises(ModelNotFound):
        await service.admit(request("nope"))
    too_long = GenerationRequest(request_id="r", kind="completion", model="tiny", prompt="x" * 10,
                                 options=SamplingOptions(max_tokens=250))
    with pytest.raises(InvalidRequest):
        await service.admit(too_long)
    not_ready = GenerationService(engine=service.engine, swaps=swaps, logs=sink, base_model="tiny",
                                  is_ready=lambda: False)
    with pytest.raises(NotReady):
        await not_ready.admit(request("tiny"))
