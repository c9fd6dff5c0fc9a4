"""The registry client parses the serving plan and refuses artifacts whose bytes have another hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from adaptloop_inference.errors import AdapterRejected
from adaptloop_inference.infra.registry_client import RegistryClient, parse_serving_plan
from adaptloop_inference.plan import AliasTarget, VersionArtifacts, VersionRef

W, C = "a" * 64, "b" * 64


def test_serving_plan_is_parsed() -> None:
    plan = parse_serving_plan({"generated_at": "x", "adapters": [{
        "name": "support", "base_model": "tiny-llama",
        "aliases": {"production": {"version": 2, "weight": None}, "canary": {"version": 3, "weight": 0.1}},
        "versions": {"2": {"weights_sha256": W, "config_sha256": C}, "3": {"weights_sha256": W, "config_sha256": C}},
    }]})
    support = plan.adapters["support"]
    assert support.aliases == {"production": AliasTarget(2, None), "canary": AliasTarget(3, 0.1)}
    assert support.versions[3] == VersionArtifacts(W, C)
    assert plan.for_base("other").adapters == {}


def _client(handler: object) -> RegistryClient:
    return RegistryClient("http://registry", token="t", timeout_s=5,
                          transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


async def test_download_checks_the_hash(tmp_path: Path) -> None:
    body = b"adapter bytes"
    good = hashlib.sha256(body).hexdigest()
    client = _client(lambda request: httpx.Response(200, content=body))
    await client.download_artifact(good, tmp_path / "ok")
    assert (tmp_path / "ok").read_bytes() == body
    with pytest.raises(AdapterRejected) as caught:
        await client.download_artifact("c" * 64, tmp_path / "bad")
    assert caught.value.kind == "hash_mismatch" and caught.value.permanent


async def test_unreachable_registry_is_a_transient_failure(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(AdapterRejected) as caught:
        await _client(refuse).download_artifact(W, tmp_path / "x")
    assert not caught.value.permanent


async def test_load_failures_are_reported_with_the_token() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={})

    await _client(record).report_load_failure(VersionRef("support", 4), replica="r1", reason="rank too large")
    assert seen[0].url.path == "/v1/adapters/support/versions/4/load-failures"
    assert seen[0].headers["authorization"] == "Bearer t"
