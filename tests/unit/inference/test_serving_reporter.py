"""Serving reports: counted per version off the request path, one report per adapter, a retry never counted twice."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from adaptloop_contracts import ServingReport
from adaptloop_inference.adapter_cache import AdapterCache
from adaptloop_inference.adapter_files import AdapterLimits
from adaptloop_inference.errors import ReportRefused
from adaptloop_inference.generation import GenerationRequest, GenerationService
from adaptloop_inference.infra.registry_client import RegistryClient
from adaptloop_inference.ports import SamplingOptions
from adaptloop_inference.serving_reporter import ServingReporter
from adaptloop_inference.swap_manager import SwapManager
from inference_fakes import FakeEngine, FakeRegistry


class FakeReportRegistry:
    """The registry's serving-report endpoint: counts each report_id once; can be down or lose its answers."""

    def __init__(self) -> None:
        self.received: list[ServingReport] = []
        self.counted: dict[str, ServingReport] = {}
        self.down = False
        self.lose_answers = False
        self.refuse_permanently = False

    async def report_serving(self, report: ServingReport) -> bool:
        self.received.append(report)
        if self.down:
            raise ReportRefused("registry unreachable: ConnectError", permanent=False)
        if self.refuse_permanently:
            raise ReportRefused("registry answered 404: adapter 'gone' not found", permanent=True)
        duplicate = str(report.report_id) in self.counted
        self.counted.setdefault(str(report.report_id), report)
        if self.lose_answers:
            raise ReportRefused("registry unreachable: ReadTimeout", permanent=False)
        return duplicate

    def totals(self) -> dict[tuple[str, int], int]:
        out: Counter[tuple[str, int]] = Counter()
        for report in self.counted.values():
            for version, n in report.counts.items():
                out[(report.adapter, int(version))] += n
        return dict(out)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def reporter(port: FakeReportRegistry, **kwargs: object) -> ServingReporter:
    return ServingReporter(port=port, replica="replica-a", interval_s=10, attempts=2, backoff_s=0,
                           clock=Clock(), **kwargs)  # type: ignore[arg-type]


async def test_one_report_per_adapter_with_counts_per_version() -> None:
    port = FakeReportRegistry()
    counting = reporter(port)
    for adapter, version in [("support", 2)] * 5 + [("support", 3)] * 2 + [("billing", 1)]:
        counting.record(adapter, version, tokens=10)

    assert await counting.flush() is True

    by_adapter = {r.adapter: r for r in port.received}
    assert by_adapter["support"].counts == {"2": 5, "3": 2} and by_adapter["billing"].counts == {"1": 1}
    assert by_adapter["support"].tokens == {"2": 50, "3": 20} and by_adapter["billing"].tokens == {"1": 10}
    assert by_adapter["support"].replica == "replica-a"
    assert by_adapter["support"].period_start <= by_adapter["support"].period_end
    assert by_adapter["support"].report_id != by_adapter["billing"].report_id
    assert await counting.flush() is True and len(port.received) == 2  # nothing served, nothing sent
    counting.record("support", 2)
    await counting.flush()
    assert len({r.report_id for r in port.received}) == 3  # a fresh report_id per batch


async def test_counts_survive_an_outage_and_a_retried_report_keeps_its_id() -> None:
    port = FakeReportRegistry()
    counting = reporter(port)
    for _ in range(4):
        counting.record("support", 2)
    port.down = True

    assert await counting.flush() is False
    first_id = port.received[0].report_id
    assert len(port.received) == 2 and {r.report_id for r in port.received} == {first_id}  # retried, same id
    assert counting.pending_reports == 1
    for _ in range(3):
        counting.record("support", 2)
    port.down = False
    port.lose_answers = True  # the registry counts it but the answer never arrives
    assert await counting.flush() is False
    port.lose_answers = False

    assert await counting.flush() is True

    ids = [r.report_id for r in port.received]
    assert ids[0] == first_id and ids.count(first_id) == 5  # 2 while down, 2 answers lost, 1 acknowledged
    assert port.totals() == {("support", 2): 7}  # nothing lost, nothing counted twice
    assert counting.pending_reports == 0 and counting.unsealed_requests == 0


async def test_a_full_queue_keeps_counting_into_the_open_window() -> None:
    port = FakeReportRegistry()
    counting = reporter(port, max_pending=2)
    port.down = True
    for _ in range(5):
        counting.record("support", 1)
        await counting.flush()
    assert counting.pending_reports == 2 and counting.unsealed_requests == 3

    port.down = False
    assert await counting.flush() is True

    assert port.totals() == {("support", 1): 5}
    assert counting.pending_reports == 0 and counting.unsealed_requests == 0


async def test_a_permanent_refusal_drops_that_report_and_moves_on() -> None:
    port = FakeReportRegistry()
    counting = reporter(port)
    counting.record("gone", 1)
    port.refuse_permanently = True
    assert await counting.flush() is True
    assert len(port.received) == 1 and counting.pending_reports == 0  # not retried
    port.refuse_permanently = False
    counting.record("support", 1)
    assert await counting.flush() is True and port.totals() == {("support", 1): 1}


async def test_run_flushes_on_stop() -> None:
    port = FakeReportRegistry()
    counting = reporter(port)
    counting.record("support", 4)
    counting.stop()
    await counting.run()
    assert port.totals() == {("support", 4): 1}


async def test_generation_tells_the_reporter_what_an_adapter_version_served(tmp_path: Path) -> None:
    registry, engine = FakeRegistry(tmp_path / "reg"), FakeEngine()
    registry.set_plan({"support": ({"production": 1}, {1: registry.publish("support", 1)})})
    swaps = SwapManager(engine=engine, cache=AdapterCache(tmp_path / "c", registry=registry,
                                                          limits=AdapterLimits(16, frozenset({"q_proj", "v_proj"}))),
                        registry=registry, base_model="tiny", replica_id="r")
    await swaps.converge(registry.plan)
    served: list[tuple[str, int]] = []
    tokens: list[int] = []

    class Sink:
        def submit(self, *_args: object, **_kwargs: object) -> bool:
            return True

    service = GenerationService(engine=engine, swaps=swaps, logs=Sink(), base_model="tiny", is_ready=lambda: True,
                                served=lambda adapter, version, n: (served.append((adapter, version)),
                                                                    tokens.append(n)))
    for model in ("support", "support@1", "tiny"):
        generation = await service.admit(GenerationRequest(
            request_id="r", kind="completion", model=model, prompt="hi", options=SamplingOptions(max_tokens=4)))
        [chunk async for chunk in service.run(generation)]

    assert served == [("support", 1), ("support", 1)]  # the base model is not an adapter version
    assert all(n > 2 for n in tokens)  # prompt and completion tokens of each request


@pytest.mark.parametrize(("status", "permanent"), [(503, False), (401, False), (429, False), (404, True),
                                                   (422, True), (409, True)])
async def test_the_registry_client_sorts_refusals(status: int, permanent: bool) -> None:
    client = RegistryClient("http://registry", token="t", timeout_s=5, transport=httpx.MockTransport(
        lambda request: httpx.Response(status, json={"detail": "no"})))
    report = ServingReport.model_validate({"report_id": "9b0e4c1a-0000-4000-8000-00000000000a", "replica": "r",
                                           "adapter": "support", "period_start": "2026-01-01T10:00:00Z",
                                           "period_end": "2026-01-01T10:00:10Z", "counts": {"2": 3}})
    with pytest.raises(ReportRefused) as caught:
        await client.report_serving(report)
    assert caught.value.permanent is permanent and str(status) in caught.value.reason
    await client.aclose()


async def test_the_registry_client_sends_the_report_with_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"report_id": "9b0e4c1a-0000-4000-8000-00000000000a", "adapter": "support",
                                         "replica": "r", "counts": {"2": 3}, "served_requests": {"2": 3},
                                         "duplicate": True})

    client = RegistryClient("http://registry", token="t", timeout_s=5, transport=httpx.MockTransport(handler))
    report = ServingReport.model_validate({"report_id": "9b0e4c1a-0000-4000-8000-00000000000a", "replica": "r",
                                           "adapter": "support", "period_start": "2026-01-01T10:00:00Z",
                                           "period_end": "2026-01-01T10:00:10Z", "counts": {"2": 3}})
    assert await client.report_serving(report) is True
    assert seen[0].url.path == "/v1/serving-reports" and seen[0].headers["authorization"] == "Bearer t"
    assert json.loads(seen[0].content)["counts"] == {"2": 3}
    unreachable = RegistryClient("http://registry", token="t", timeout_s=5, transport=httpx.MockTransport(
        lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused", request=request))))
    with pytest.raises(ReportRefused) as caught:
        await unreachable.report_serving(report)
    assert caught.value.permanent is False
    await client.aclose()
    await unreachable.aclose()
