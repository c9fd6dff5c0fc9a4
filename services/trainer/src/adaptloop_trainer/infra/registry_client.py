"""HTTP client of the registry (docs/service-apis.md): adapters, base models, artifacts, versions."""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

import httpx
from adaptloop_contracts.eval_suites import EvalSuiteRecord
from adaptloop_contracts.registry_answers import (
    AdapterRecord,
    ArtifactStored,
    BaseModelRecord,
    Registration,
    VersionRecord,
)
from adaptloop_contracts.registry_requests import VersionSpec
from pydantic import BaseModel, TypeAdapter
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from adaptloop_trainer.errors import UpstreamError, UpstreamUnavailable

_transient = retry(
    retry=retry_if_exception_type((httpx.TransportError, UpstreamError)),
    stop=stop_after_attempt(4), wait=wait_exponential(multiplier=0.3, max=5), reraise=True,
)


_Model = TypeVar("_Model", bound=BaseModel)


def _one(model: type[_Model], payload: Any) -> _Model | None:
    """The registry's answer parsed with its contract model (adaptloop_contracts.registry_answers); None for a 404."""
    return None if payload is None else model.model_validate(payload)


def _many(model: type[_Model], payload: Any) -> list[_Model]:
    if payload is None:
        return []
    return TypeAdapter(list[model]).validate_python(payload)  # type: ignore[valid-type]


class RegistryClient:
    def __init__(self, base_url: str, token: str, *, timeout_s: float = 60.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self._http.close()

    def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code == 503:
            raise UpstreamUnavailable(f"registry {what}: 503 {response.text[:300]}")
        if response.status_code >= 500:
            raise UpstreamError(f"registry {what}: {response.status_code} {response.text[:300]}")
        if response.status_code >= 400:
            raise _ClientError(response.status_code, f"registry {what}: {response.status_code} {response.text[:500]}")
        return response

    @_transient
    def _get_optional(self, path: str) -> Any | None:
        response = self._http.get(path)
        if response.status_code == 404:
            return None
        return self._check(response, f"GET {path}").json()

    def ping(self) -> None:
        self._check(self._http.get("/healthz"), "GET /healthz")

    def adapter(self, name: str) -> AdapterRecord | None:
        return _one(AdapterRecord, self._get_optional(f"/v1/adapters/{name}"))

    def adapters(self) -> list[AdapterRecord]:
        return _many(AdapterRecord, self._get_optional("/v1/adapters"))

    def base_model(self, name: str) -> BaseModelRecord | None:
        return _one(BaseModelRecord, self._get_optional(f"/v1/base-models/{name}"))

    def version(self, name: str, number: int) -> VersionRecord | None:
        return _one(VersionRecord, self._get_optional(f"/v1/adapters/{name}/versions/{number}"))

    def versions(self, name: str) -> list[VersionRecord]:
        return _many(VersionRecord, self._get_optional(f"/v1/adapters/{name}/versions"))

    def eval_suites(self, name: str) -> list[EvalSuiteRecord]:
        """The latest version of every evaluation suite attached to the adapter."""
        return _many(EvalSuiteRecord, self._get_optional(f"/v1/adapters/{name}/eval-suites"))

    @_transient
    def upload_artifact(self, data: bytes, filename: str) -> ArtifactStored:
        sha = hashlib.sha256(data).hexdigest()
        response = self._http.put(f"/v1/artifacts/{sha}", params={"filename": filename}, content=data,
                                  headers={"Content-Type": "application/octet-stream"})
        return ArtifactStored.model_validate(self._check(response, f"PUT artifact {filename}").json())

    @_transient
    def download_artifact(self, sha256: str) -> bytes:
        response = self._check(self._http.get(f"/v1/artifacts/{sha256}"), f"GET artifact {sha256}")
        if hashlib.sha256(response.content).hexdigest() != sha256:
            raise UpstreamError(f"artifact {sha256} downloaded with a different sha256")
        return response.content

    @_transient
    def register_version(self, name: str, spec: VersionSpec) -> Registration:
        response = self._http.post(f"/v1/adapters/{name}/versions", content=spec.model_dump_json(),
                                   headers={"Content-Type": "application/json"})
        return Registration.model_validate(self._check(response, f"POST version of {name}").json())


class _ClientError(UpstreamError):
    """A 4xx answer: retrying will not help."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
