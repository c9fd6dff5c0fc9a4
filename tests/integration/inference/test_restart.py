"""A replica that was down while a promotion happened serves the new version by the time it is ready."""

from __future__ import annotations

import httpx
from inference_stack import PROMPTS, InferenceService, LoraFactory, Registry, complete, wait_until


def test_promotion_while_down_is_served_before_ready(
    inference: InferenceService, registry: Registry, loras: LoraFactory, adapter_name: str,
) -> None:
    old = registry.register_version(adapter_name, loras.adapter(401))
    new = registry.register_version(adapter_name, loras.adapter(402))
    registry.move_alias(adapter_name, "production", old)
    wait_until(lambda: complete(inference.url, adapter_name, PROMPTS[2])[1] == str(old), timeout_s=15,
               what="old version serving")
    reference_new = complete(inference.url, f"{adapter_name}@{new}", PROMPTS[2])

    inference.kill()
    registry.move_alias(adapter_name, "production", new)
    inference.start()

    def answer_before_ready() -> bool:
        try:
            response = httpx.post(f"{inference.url}/v1/completions", timeout=5, json={
                "model": adapter_name, "prompt": PROMPTS[2], "max_tokens": 4, "temperature": 0})
        except httpx.HTTPError:
            return False
        # Until the first sync the replica refuses rather than serving a stale version.
        assert response.status_code == 503 or response.headers["x-adaptloop-adapter-version"] == str(new)
        return True

    wait_until(answer_before_ready, timeout_s=300, interval_s=0.5, what="HTTP server up")
    inference.wait_ready()
    assert complete(inference.url, adapter_name, PROMPTS[2]) == reference_new
