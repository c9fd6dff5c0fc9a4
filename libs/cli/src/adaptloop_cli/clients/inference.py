"""The inference API as the CLI uses it: what can be served (`GET /v1/models`)."""

from __future__ import annotations

from typing import Any

from adaptloop_cli.clients.base import ServiceClient


class InferenceClient(ServiceClient):
    service = "inference"

    def models(self) -> list[dict[str, Any]]:
        answer = self.get_json("/v1/models")
        return list(answer.get("data", []) if isinstance(answer, dict) else answer)
