"""Promotions through the registry switch what a name serves, new versions are loaded before their promotion,
and old versions leave the engine."""

from __future__ import annotations

from inference_stack import PROMPTS, InferenceService, LoraFactory, Registry, complete, wait_until

FROM_EVENT = ("adaptloop_inference_plan_syncs_total", {"outcome": "from_event"})


def _loaded(inference: InferenceService, name: str) -> set[str]:
    return {e["version"] for e in inference.state()["loaded"] if e["version"].startswith(f"{name}@")}


def test_promotion_switches_the_served_version(
    inference: InferenceService, registry: Registry, loras: LoraFactory, adapter_name: str,
) -> None:
    prompt = PROMPTS[0]
    base_text, base_header = complete(inference.url, "tiny-llama", prompt)
    assert base_header == "base"
    # Registered but never promoted: the name is known and served by the base model.
    v1 = registry.register_version(adapter_name, loras.adapter(101))
    wait_until(lambda: adapter_name in inference.state()["routes"], timeout_s=30, what="adapter in routes")
    assert complete(inference.url, adapter_name, prompt) == (base_text, "base")

    reference_v1 = complete(inference.url, f"{adapter_name}@{v1}", prompt)
    assert reference_v1[1] == str(v1) and reference_v1[0] != base_text
    registry.move_alias(adapter_name, "production", v1)
    wait_until(lambda: complete(inference.url, adapter_name, prompt)[1] == str(v1), timeout_s=15,
               what="v1 in production")
    assert complete(inference.url, adapter_name, prompt) == reference_v1
    assert complete(inference.url, f"{adapter_name}:production", prompt) == reference_v1

    v2 = registry.register_version(adapter_name, loras.adapter(102))
    # Registered for an adapter in production here: loaded ahead of its promotion, before any request names it.
    wait_until(lambda: _loaded(inference, adapter_name) == {f"{adapter_name}@{v1}", f"{adapter_name}@{v2}"},
               timeout_s=15, what="v2 pre-loaded")
    reference_v2 = complete(inference.url, f"{adapter_name}@{v2}", prompt)
    assert reference_v2[0] != reference_v1[0]
    applied = inference.metric(*FROM_EVENT)
    registry.move_alias(adapter_name, "production", v2)
    wait_until(lambda: complete(inference.url, adapter_name, prompt)[1] == str(v2), timeout_s=15,
               what="v2 in production")
    assert inference.metric(*FROM_EVENT) > applied, "the move was applied from its announcement, no plan fetch"
    assert complete(inference.url, adapter_name, prompt) == reference_v2
    wait_until(lambda: _loaded(inference, adapter_name) == {f"{adapter_name}@{v2}"}, timeout_s=15,
               what="only v2 loaded")
    engine_loras = {n for n in inference.state()["engine_loras"] if n.startswith(f"{adapter_name}@")}
    assert engine_loras == {f"{adapter_name}@{v2}"}
