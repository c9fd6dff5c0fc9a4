"""The drift service's API: the detector state per adapter and signal (`GET /v1/state`)."""

from __future__ import annotations

from adaptloop_contracts.drift_api import DriftState

from adaptloop_cli.clients.base import ServiceClient


class DriftClient(ServiceClient):
    service = "drift"

    def state(self) -> DriftState:
        return self.get(DriftState, "/v1/state")
