"""The trainer's API: create, list, read and cancel jobs; read base-model upgrade reports."""

from __future__ import annotations

from typing import Any

from adaptloop_cli.clients.base import ServiceClient

FINAL_STATES = frozenset({"succeeded", "failed", "cancelled", "rejected"})


class TrainerClient(ServiceClient):
    service = "trainer"

    def request_job(self, adapter: str, *, reason: str = "manual", base_model: str | None = None,
                    training_config: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST /v1/jobs: the trainer records the job and publishes its `retrain.requested`."""
        body: dict[str, Any] = {"adapter": adapter, "reason": reason}
        if base_model is not None:
            body["base_model"] = base_model
        if training_config:
            body["training_config"] = training_config
        return dict(self.request("POST", "/v1/jobs", json=body, auth=True).json())

    def jobs(self, *, adapter: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if adapter:
            params["adapter"] = adapter
        answer = self.get_json("/v1/jobs", params=params)
        return list(answer["jobs"] if isinstance(answer, dict) else answer)

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.get_json(f"/v1/jobs/{job_id}"))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/v1/jobs/{job_id}/cancel", auth=True).json())

    def upgrade_report(self, job_id: str) -> dict[str, Any]:
        return dict(self.get_json(f"/v1/upgrades/{job_id}"))
