"""The ingest service as the CLI uses it: readiness, curated examples and erasures."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts.ingest_api import ErasureAnswer, ExamplesImported

from adaptloop_cli.clients.base import ServiceClient


class IngestClient(ServiceClient):
    service = "ingest"

    def erase(self, body: dict[str, Any]) -> ErasureAnswer:
        return self.call(ErasureAnswer, "POST", "/v1/erasures", json=body, auth=True)

    def import_examples(self, items: list[dict[str, Any]]) -> ExamplesImported:
        return self.call(ExamplesImported, "POST", "/v1/examples", json=items, auth=True)
