"""A version that fails verification is refused; the previous one keeps serving every request."""

from __future__ import annotations

import os

from inference_stack import PROMPTS, InferenceService, LoraFactory, Registry, complete, sha256_file, wait_until


def _promote_refused(inference: InferenceService, registry: Registry, name: str, good: int, bad: int,
                     kind: str) -> None:
    reference = complete(inference.url, name, PROMPTS[1])
    assert reference[1] == str(good)
    failures_before = inference.metric("adaptloop_inference_adapter_load_failures_total", {"kind": kind})
    registry.move_alias(name, "production", bad)
    wait_until(lambda: registry.load_failure_count(name, bad) >= 1, timeout_s=20, what="failure reported")
    assert inference.metric("adaptloop_inference_adapter_load_failures_total", {"kind": kind}) > failures_before
    state = inference.state()
    assert state["routes"][name]["production"]["version"] == good
    assert any(f["version"] == f"{name}@{bad}" and f["kind"] == kind for f in state["load_failures"])
    for _ in range(5):
        assert complete(inference.url, name, PROMPTS[1]) == reference
    assert f"{name}@{bad}" not in {e["version"] for e in state["loaded"]}


def _serve(inference: InferenceService, registry: Registry, name: str, version: int) -> None:
    registry.move_alias(name, "production", version)
    wait_until(lambda: complete(inference.url, name, PROMPTS[1])[1] == str(version), timeout_s=15,
               what=f"{name} v{version} serving")


def test_artifact_with_wrong_hash_is_refused(
    inference: InferenceService, registry: Registry, loras: LoraFactory, adapter_name: str,
) -> None:
    good = registry.register_version(adapter_name, loras.adapter(301))
    _serve(inference, registry, adapter_name, good)
    bad_dir = loras.adapter(302)
    bad = registry.register_version(adapter_name, bad_dir)
    # The registry's stored copy rots after upload: same length, different bytes.
    stored = registry.artifact_path(sha256_file(bad_dir / "adapter_model.safetensors"))
    os.chmod(stored, 0o644)
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    stored.write_bytes(bytes(data))
    _promote_refused(inference, registry, adapter_name, good, bad, "hash_mismatch")


def test_rank_above_the_maximum_is_refused(
    inference: InferenceService, registry: Registry, loras: LoraFactory, adapter_name: str,
) -> None:
    good = registry.register_version(adapter_name, loras.adapter(303))
    _serve(inference, registry, adapter_name, good)
    bad = registry.register_version(adapter_name, loras.adapter(304, rank=32))
    _promote_refused(inference, registry, adapter_name, good, bad, "rank_too_large")
