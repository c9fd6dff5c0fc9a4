"""The registry's HTTP API as the inference service uses it (docs/service-apis.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
from adaptloop_contracts import ServingReport, ServingReportAnswer, serving_plan

from adaptloop_inference.errors import AdapterRejected, ReportRefused
from adaptloop_inference.plan import AdapterPlan, AliasTarget, ServingPlan, VersionArtifacts, VersionRef

_CHUNK = 1 << 16
_RETRYABLE = {401, 403, 408, 425, 429}
"""Refusals worth keeping the report for: a token the registry may accept again, or a busy registry."""


class RegistryClient:
    """Reads the serving plan and artifacts; reports load failures and served counts with a `trainer` token."""

    def __init__(self, base_url: str, *, token: str | None, timeout_s: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)
        self._token = token

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch_plan(self) -> ServingPlan:
        response = await self._http.get("/v1/serving-plan")
        response.raise_for_status()
        return parse_serving_plan(response.json())

    async def download_artifact(self, sha256: str, dest: Path) -> None:
        """Stream `GET /v1/artifacts/{sha256}` to `dest`; a body of another hash is refused for good."""
        digest = hashlib.sha256()
        try:
            async with self._http.stream("GET", f"/v1/artifacts/{sha256}") as response:
                if response.status_code == 404:
                    raise AdapterRejected(f"artifact {sha256} not found in the registry", kind="artifact_missing",
                                          permanent=False)
                response.raise_for_status()
                with dest.open("wb") as fh:
                    async for chunk in response.aiter_bytes(_CHUNK):
                        digest.update(chunk)
                        fh.write(chunk)
        except httpx.HTTPError as exc:
            raise AdapterRejected(f"download of {sha256} failed: {exc}", kind="download_failed",
                                  permanent=False) from exc
        if digest.hexdigest() != sha256:
            raise AdapterRejected(f"artifact {sha256} downloaded with sha256 {digest.hexdigest()}",
                                  kind="hash_mismatch")

    async def report_load_failure(self, ref: VersionRef, *, replica: str, reason: str) -> None:
        if not self._token:
            raise RuntimeError("no registry token configured (ADAPTLOOP_INFERENCE_REGISTRY_TOKEN)")
        response = await self._http.post(
            f"/v1/adapters/{ref.name}/versions/{ref.version}/load-failures",
            json={"replica": replica, "reason": reason[:1000]},
            headers={"Authorization": f"Bearer {self._token}"},
        )
        response.raise_for_status()

    async def report_serving(self, report: ServingReport) -> bool:
        """`POST /v1/serving-reports`; True when the registry had counted this `report_id` before."""
        if not self._token:
            raise ReportRefused("no registry token configured (ADAPTLOOP_INFERENCE_REGISTRY_TOKEN)", permanent=False)
        try:
            response = await self._http.post("/v1/serving-reports", content=report.model_dump_json(),
                                              headers={"Authorization": f"Bearer {self._token}",
                                                       "Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise ReportRefused(f"registry unreachable: {type(exc).__name__}: {exc}", permanent=False) from exc
        if response.status_code >= 400:
            permanent = response.status_code < 500 and response.status_code not in _RETRYABLE
            raise ReportRefused(f"registry answered {response.status_code}: {response.text[:300]}",
                                permanent=permanent)
        return ServingReportAnswer.model_validate(response.json()).duplicate

    async def reachable(self) -> bool:
        try:
            response = await self._http.get("/healthz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


def parse_serving_plan(body: dict[str, Any]) -> ServingPlan:
    """The registry's `GET /v1/serving-plan` answer (adaptloop_contracts.serving_plan) as this replica's plan;
    an alias without a target and a version without both files are left out."""
    plan = serving_plan.ServingPlan.model_validate(body)
    adapters: dict[str, AdapterPlan] = {}
    for item in plan.adapters:
        aliases = {alias: AliasTarget(target.version, target.weight)
                   for alias, target in item.aliases.items() if target is not None and target.version is not None}
        versions = {int(number): VersionArtifacts(files.weights_sha256, files.config_sha256)
                    for number, files in item.versions.items()
                    if files is not None and files.weights_sha256 and files.config_sha256}
        adapters[item.name] = AdapterPlan(item.name, item.base_model or "", aliases, versions)
    return ServingPlan(adapters)
