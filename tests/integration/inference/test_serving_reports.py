"""The replica reports what each version served to the real registry, off the request path, counted once."""

from __future__ import annotations

from inference_stack import PROMPTS, InferenceService, LoraFactory, Registry, complete, wait_until


def _served(registry: Registry, name: str, version: int) -> int:
    return int(registry.http.get(f"/v1/adapters/{name}/versions/{version}").json()["served_requests"])


def test_requests_served_per_version_reach_the_registry(
    inference: InferenceService, registry: Registry, loras: LoraFactory, adapter_name: str,
) -> None:
    v1 = registry.register_version(adapter_name, loras.adapter(101))
    v2 = registry.register_version(adapter_name, loras.adapter(102))
    assert complete(inference.url, f"{adapter_name}@{v1}", PROMPTS[0], max_tokens=2)[1] == str(v1)  # loads it
    registry.move_alias(adapter_name, "production", v1)
    wait_until(lambda: complete(inference.url, adapter_name, PROMPTS[0], max_tokens=2)[1] == str(v1), timeout_s=60,
               interval_s=0.5, what="v1 in production")
    wait_until(lambda: inference.state()["serving_reports"]["unsealed_requests"] == 0
               and inference.state()["serving_reports"]["pending_reports"] == 0
               and _served(registry, adapter_name, v1) >= 2, timeout_s=30, what="the first requests reported")
    reported_before = inference.metric("adaptloop_inference_serving_reported_requests_total")
    v1_before = _served(registry, adapter_name, v1)

    for i in range(6):
        assert complete(inference.url, adapter_name, PROMPTS[i % len(PROMPTS)], max_tokens=2)[1] == str(v1)
    for i in range(3):
        assert complete(inference.url, f"{adapter_name}@{v2}", PROMPTS[i], max_tokens=2)[1] == str(v2)
    complete(inference.url, "tiny-llama", PROMPTS[0], max_tokens=2)  # the base model is not a version

    wait_until(lambda: (_served(registry, adapter_name, v1), _served(registry, adapter_name, v2))
               == (v1_before + 6, 3), timeout_s=30, what="served counts in the registry")
    state = inference.state()["serving_reports"]
    assert state["enabled"] is True and state["pending_reports"] == 0
    assert inference.metric("adaptloop_inference_serving_reported_requests_total") - reported_before >= 9
    assert inference.metric("adaptloop_inference_serving_reports_total", {"outcome": "dropped"}) == 0
