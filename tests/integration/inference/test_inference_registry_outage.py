"""The registry's PostgreSQL taken away (a TCP proxy cut): the registry answers 503, inference keeps
serving the plan it loaded and stays ready, and syncs again once the database is back."""

from __future__ import annotations

import httpx
from adaptloop_devstack.tcp_proxy import TcpProxy
from inference_stack import PROMPTS, InferenceService, LoraFactory, Registry, complete, wait_until

FAILED_SYNCS = ("adaptloop_inference_plan_syncs_total", {"outcome": "failed"})


def test_inference_keeps_serving_while_the_registry_database_is_away(
    inference: InferenceService, registry: Registry, registry_db: TcpProxy, loras: LoraFactory, adapter_name: str,
) -> None:
    version = registry.register_version(adapter_name, loras.adapter(101))
    registry.move_alias(adapter_name, "production", version)
    prompt = PROMPTS[1]
    wait_until(lambda: complete(inference.url, adapter_name, prompt)[1] == str(version), timeout_s=30,
               what="the version in production")
    served = complete(inference.url, adapter_name, prompt)
    failed_syncs = inference.metric(*FAILED_SYNCS)

    registry_db.cut()
    try:
        plan = registry.http.get("/v1/serving-plan")
        assert plan.status_code == 503 and plan.headers["Retry-After"] == "1", plan.text
        wait_until(lambda: inference.metric(*FAILED_SYNCS) > failed_syncs, timeout_s=30,
                   what="a plan sync meeting the outage")
        assert inference.state()["last_sync_error"], "the failed sync is not reported"
        assert complete(inference.url, adapter_name, prompt) == served
        assert complete(inference.url, f"{adapter_name}@{version}", prompt) == served
        assert httpx.get(f"{inference.url}/readyz", timeout=10).status_code == 200
    finally:
        registry_db.restore()

    wait_until(lambda: inference.state()["last_sync_error"] is None, timeout_s=30, what="a successful sync")
    assert complete(inference.url, adapter_name, prompt) == served
