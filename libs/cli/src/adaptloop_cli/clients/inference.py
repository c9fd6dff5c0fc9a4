"""The inference API as the CLI uses it: what can be served (`GET /v1/models`)."""

from __future__ import annotations

from adaptloop_contracts.openai_api import ModelCard, ModelList

from adaptloop_cli.clients.base import ServiceClient


class InferenceClient(ServiceClient):
    service = "inference"

    def models(self) -> list[ModelCard]:
        return self.get(ModelList, "/v1/models").data
