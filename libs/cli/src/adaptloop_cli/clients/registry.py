"""The registry's API as the CLI uses it: adapters, versions, aliases (compare-and-swap), approvals, base
models; answers parsed with the contract models of adaptloop_contracts."""

from __future__ import annotations

from adaptloop_contracts.eval_suites import EvalSuiteRecord
from adaptloop_contracts.registry_answers import (
    AdapterRecord,
    AliasHistoryEntry,
    BaseModelRecord,
    Registration,
    ScopedToken,
    VersionRecord,
)
from adaptloop_contracts.registry_api import AliasMoveRecord, ApprovalAnswer, PendingApproval

from adaptloop_cli.clients.base import ServiceClient
from adaptloop_cli.errors import ServiceRefused


class RegistryClient(ServiceClient):
    service = "registry"

    def adapters(self) -> list[AdapterRecord]:
        return self.get(list[AdapterRecord], "/v1/adapters")

    def adapter(self, name: str) -> AdapterRecord:
        return self.get(AdapterRecord, f"/v1/adapters/{name}")

    def versions(self, name: str) -> list[VersionRecord]:
        return self.get(list[VersionRecord], f"/v1/adapters/{name}/versions")

    def alias_history(self, name: str, alias: str) -> list[AliasHistoryEntry]:
        return self.get(list[AliasHistoryEntry], f"/v1/adapters/{name}/aliases/{alias}/history")

    def move_alias(self, name: str, alias: str, *, version: int, expected_version: int | None,
                   reason: str) -> AliasMoveRecord:
        """PUT the alias: succeeds only if it still points at `expected_version` (409 otherwise)."""
        body = {"version": version, "expected_version": expected_version, "reason": reason}
        return self.call(AliasMoveRecord, "PUT", f"/v1/adapters/{name}/aliases/{alias}", json=body, auth=True)

    def rollback_alias(self, name: str, alias: str, *, reason: str) -> AliasMoveRecord:
        return self.call(AliasMoveRecord, "POST", f"/v1/adapters/{name}/aliases/{alias}/rollback",
                         json={"reason": reason}, auth=True)

    def approvals(self) -> list[PendingApproval]:
        """Versions waiting in `pending_approval`, across adapters."""
        return self.get(list[PendingApproval], "/v1/approvals")

    def decide_approval(self, name: str, version: int, *, approve: bool, reason: str) -> ApprovalAnswer:
        """`approve` (production moves to the version) or `reject` it; 409 when it is not pending."""
        verb = "approve" if approve else "reject"
        return self.call(ApprovalAnswer, "POST", f"/v1/adapters/{name}/versions/{version}/{verb}",
                         json={"reason": reason}, auth=True)

    def base_model(self, name: str) -> BaseModelRecord | None:
        try:
            return self.get(BaseModelRecord, f"/v1/base-models/{name}")
        except ServiceRefused as exc:
            if exc.status == 404:
                return None
            raise

    def register_base_model(self, *, name: str, version: str, location: str, weights_sha256: str,
                            successor_of: str | None, reason: str | None = None) -> BaseModelRecord:
        body = {"name": name, "version": version, "location": location, "weights_sha256": weights_sha256,
                "successor_of": successor_of}
        if reason is not None:
            body["reason"] = reason
        return self.call(BaseModelRecord, "POST", "/v1/base-models", json=body, auth=True)

    def create_adapter(self, body: dict[str, object]) -> AdapterRecord:
        return self.call(AdapterRecord, "POST", "/v1/adapters", json=body, auth=True)

    def register_version(self, name: str, body: dict[str, object]) -> Registration:
        return self.call(Registration, "POST", f"/v1/adapters/{name}/versions", json=body, auth=True)

    def retire(self, name: str, version: int, *, reason: str) -> VersionRecord:
        return self.call(VersionRecord, "POST", f"/v1/adapters/{name}/versions/{version}/retire",
                         json={"reason": reason}, auth=True)

    def eval_suites(self, name: str) -> list[EvalSuiteRecord]:
        return self.get(list[EvalSuiteRecord], f"/v1/adapters/{name}/eval-suites")

    def attach_suite(self, name: str, body: dict[str, object]) -> EvalSuiteRecord:
        return self.call(EvalSuiteRecord, "POST", f"/v1/adapters/{name}/eval-suites", json=body, auth=True)

    def issue_token(self, *, actor: str, role: str, adapters: list[str]) -> ScopedToken:
        return self.call(ScopedToken, "POST", "/v1/tokens", json={"actor": actor, "role": role, "adapters": adapters},
                         auth=True)
