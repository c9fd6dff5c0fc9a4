"""The registry's API as the CLI uses it: adapters, versions, aliases (compare-and-swap), approvals, base
models."""

from __future__ import annotations

from typing import Any

from adaptloop_cli.clients.base import ServiceClient
from adaptloop_cli.errors import ServiceRefused


class RegistryClient(ServiceClient):
    service = "registry"

    def adapters(self) -> list[dict[str, Any]]:
        return list(self.get_json("/v1/adapters"))

    def adapter(self, name: str) -> dict[str, Any]:
        return dict(self.get_json(f"/v1/adapters/{name}"))

    def versions(self, name: str) -> list[dict[str, Any]]:
        return list(self.get_json(f"/v1/adapters/{name}/versions"))

    def alias_history(self, name: str, alias: str) -> list[dict[str, Any]]:
        return list(self.get_json(f"/v1/adapters/{name}/aliases/{alias}/history"))

    def move_alias(self, name: str, alias: str, *, version: int, expected_version: int | None,
                   reason: str) -> dict[str, Any]:
        """PUT the alias: succeeds only if it still points at `expected_version` (409 otherwise)."""
        body = {"version": version, "expected_version": expected_version, "reason": reason}
        return dict(self.request("PUT", f"/v1/adapters/{name}/aliases/{alias}", json=body, auth=True).json())

    def rollback_alias(self, name: str, alias: str, *, reason: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/v1/adapters/{name}/aliases/{alias}/rollback",
                                 json={"reason": reason}, auth=True).json())

    def approvals(self) -> list[dict[str, Any]]:
        """Versions waiting in `pending_approval`, across adapters."""
        return list(self.get_json("/v1/approvals"))

    def decide_approval(self, name: str, version: int, *, approve: bool, reason: str) -> dict[str, Any]:
        """`approve` (production moves to the version) or `reject` it; 409 when it is not pending."""
        verb = "approve" if approve else "reject"
        return dict(self.request("POST", f"/v1/adapters/{name}/versions/{version}/{verb}", json={"reason": reason},
                                 auth=True).json())

    def base_model(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.get_json(f"/v1/base-models/{name}"))
        except ServiceRefused as exc:
            if exc.status == 404:
                return None
            raise

    def register_base_model(self, *, name: str, version: str, location: str, weights_sha256: str,
                            successor_of: str | None) -> dict[str, Any]:
        body = {"name": name, "version": version, "location": location, "weights_sha256": weights_sha256,
                "successor_of": successor_of}
        return dict(self.request("POST", "/v1/base-models", json=body, auth=True).json())
