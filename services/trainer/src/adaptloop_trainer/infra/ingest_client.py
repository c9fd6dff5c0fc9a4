"""HTTP client of ingest's example export (`GET /v1/examples`, JSON lines)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
from adaptloop_contracts.ingest_api import ExportedExample
from pydantic import ValidationError

from adaptloop_trainer.errors import UpstreamError, UpstreamUnavailable


class IngestClient:
    def __init__(self, base_url: str, token: str, *, timeout_s: float = 60.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self._http.close()

    def ping(self) -> None:
        self._http.get("/healthz").raise_for_status()

    def export(self, adapter: str, *, since: datetime | None, until: datetime | None) -> Iterator[ExportedExample]:
        """Every exported example of `adapter` in the time range, streamed line by line."""
        params = {"adapter": adapter, "only_targets": "true"}
        if since is not None:
            params["since"] = since.isoformat()
        if until is not None:
            params["until"] = until.isoformat()
        try:
            with self._http.stream("GET", "/v1/examples", params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    error = UpstreamUnavailable if response.status_code == 503 else UpstreamError
                    raise error(f"ingest export: {response.status_code} {response.text[:300]}")
                for line in response.iter_lines():
                    if line.strip():
                        yield _example(line)
        except httpx.RemoteProtocolError as exc:  # the export stopped mid-stream, e.g. ingest lost its database
            raise UpstreamUnavailable(f"ingest export cut short: {exc}") from exc
        except httpx.TransportError as exc:
            raise UpstreamError(f"ingest export unreachable: {exc}") from exc


def _example(line: str) -> ExportedExample:
    """One export line parsed with its contract model (adaptloop_contracts.ingest_api.ExportedExample)."""
    try:
        return ExportedExample.model_validate_json(line)
    except ValidationError as exc:
        raise UpstreamError(f"ingest export: a line is not an example: {exc.errors(include_url=False)[:1]}") from exc
