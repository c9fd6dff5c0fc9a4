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

    answers: list[tuple[int, str | None]] = []

    def ready_while_answering() -> bool:
        """Ask for a completion, then whether the replica is ready; every answer is kept for the check below."""
        try:
            response = httpx.post(f"{inference.url}/v1/completions", timeout=5, json={
                "model": adapter_name, "prompt": PROMPTS[2], "max_tokens": 4, "temperature": 0})
            answers.append((response.status_code, response.headers.get("x-adaptloop-adapter-version")))
            return httpx.get(f"{inference.url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready_while_answering, timeout_s=600, interval_s=0.5, what="the replica ready")
    # Until the first sync the replica refuses rather than serving a stale version.
    stale = [(status, version) for status, version in answers if status != 503 and version != str(new)]
    assert answers and not stale, f"answers before ready: {answers}"
    assert complete(inference.url, adapter_name, PROMPTS[2]) == reference_new
