"""HTTP side of an erasure: the trainer's snapshot lineage and the registry's version flags."""

from __future__ import annotations

from typing import Any, Protocol

import httpx


class LineageSettings(Protocol):
    """Where ingest asks about lineage during an erasure (the ingest settings `registry_url`, `trainer_url`)."""

    registry_url: str
    trainer_url: str
    lineage_timeout_s: float


class LineageUnavailable(Exception):
    """The trainer or registry could not answer (or refused): nothing was erased."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class HttpLineage:
    def __init__(self, settings: LineageSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        self._trainer = httpx.Client(base_url=settings.trainer_url.rstrip("/"), timeout=settings.lineage_timeout_s,
                                     transport=transport)
        self._registry = httpx.Client(base_url=settings.registry_url.rstrip("/"),
                                      timeout=settings.lineage_timeout_s, transport=transport)

    @staticmethod
    def _post(client: httpx.Client, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        what = f"POST {client.base_url}{path}"
        try:
            response = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise LineageUnavailable(503, f"{what}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            status = response.status_code if response.status_code in (401, 403, 404, 422) else 503
            raise LineageUnavailable(status, f"{what}: {response.status_code} {response.text[:500]}")
        return dict(response.json())

    def snapshots(self, body: dict[str, Any], *, token: str) -> dict[str, Any]:
        return self._post(self._trainer, "/v1/erasures/lineage", body, token)

    def flag_versions(self, body: dict[str, Any], *, token: str) -> dict[str, Any]:
        return self._post(self._registry, "/v1/erasures", body, token)
