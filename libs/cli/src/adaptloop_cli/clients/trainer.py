"""The trainer's API: create, list, read and cancel jobs; read upgrade reports and cost ledgers (contract models)."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts.trainer_api import AdapterCosts, JobList, JobRecord, UpgradeReport

from adaptloop_cli.clients.base import ServiceClient

FINAL_STATES = frozenset({"succeeded", "failed", "cancelled", "rejected"})


class TrainerClient(ServiceClient):
    service = "trainer"

    def request_job(self, adapter: str, *, reason: str = "manual", base_model: str | None = None,
                    training_config: dict[str, Any] | None = None) -> JobRecord:
        """POST /v1/jobs: the trainer records the job and publishes its `retrain.requested`."""
        body: dict[str, Any] = {"adapter": adapter, "reason": reason}
        if base_model is not None:
            body["base_model"] = base_model
        if training_config:
            body["training_config"] = training_config
        return self.call(JobRecord, "POST", "/v1/jobs", json=body, auth=True)

    def jobs(self, *, adapter: str | None = None, limit: int = 100) -> list[JobRecord]:
        params: dict[str, Any] = {"limit": limit}
        if adapter:
            params["adapter"] = adapter
        return self.get(JobList, "/v1/jobs", params=params).jobs

    def job(self, job_id: str) -> JobRecord:
        return self.get(JobRecord, f"/v1/jobs/{job_id}")

    def cancel(self, job_id: str) -> JobRecord:
        return self.call(JobRecord, "POST", f"/v1/jobs/{job_id}/cancel", auth=True)

    def upgrade_report(self, job_id: str) -> UpgradeReport:
        return self.get(UpgradeReport, f"/v1/upgrades/{job_id}")

    def costs(self, adapter: str) -> AdapterCosts:
        return self.get(AdapterCosts, f"/v1/adapters/{adapter}/costs")
