"""The drift service's API: the detector state per adapter and signal (`GET /v1/state`)."""

from __future__ import annotations

from typing import Any

from adaptloop_cli.clients.base import ServiceClient


class DriftClient(ServiceClient):
    service = "drift"

    def state(self) -> Any:
        return self.get_json("/v1/state")
