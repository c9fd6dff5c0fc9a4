"""What a version registration writes, decided in memory from the rows of the checks query: every refusal,
the version row with its final status, its evaluation, the outbox and audit rows, and the promotion policy's
alias move (or approval request); the answer is built from the same rows, not read back."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from adaptloop_contracts import RegistryEvent
from sqlalchemy import Connection, Row

from adaptloop_registry.aliases import CANARY, PRODUCTION
from adaptloop_registry.caller import Caller, iso, utc_now
from adaptloop_registry.catalog import artifact_uri, policy_of
from adaptloop_registry.errors import Conflict, Invalid, NotFound
from adaptloop_registry.models import VersionSpec
from adaptloop_registry.outbox import audit_row, outbox_row
from adaptloop_registry.registration_statements import WriteShape, write_statement, write_statements
from adaptloop_registry.version_reads import version_view
from adaptloop_registry.version_status import PENDING_APPROVAL


def plan_registration(adapter: Any, rows: list[Any], spec: VersionSpec, caller: Caller,
                      base_url: str) -> RegistrationPlan | int:
    """Every check decided from the rows of `registration_statements.CHECKS`; the registration to write, or the
    number of the version already registered under the request_id (raises `Conflict` when that one has other
    artifacts)."""
    number = adapter.next_version - 1
    base_model = spec.base_model or adapter.base_model
    first = rows[0]
    if first.existing_version is not None:
        if (first.existing_weights, first.existing_config) != (spec.weights_sha256, spec.config_sha256):
            raise Conflict(f"request_id {spec.request_id!r} was already used for version {first.existing_version} "
                           "with other artifacts")
        return int(first.existing_version)
    if first.base_model_id is None:
        raise Invalid(f"base model {base_model!r} is not registered")
    _require_kind(spec.weights_sha256, first.weights_kind, "weights")
    _require_kind(spec.config_sha256, first.config_kind, "config")
    if spec.parent_version is not None and first.parent_id is None:
        raise NotFound(f"adapter {adapter.name!r} has no version {spec.parent_version}")
    plan = RegistrationPlan(adapter, number, spec, base_model, int(first.weights_size), caller, base_url, utc_now())
    plan.promote({r.alias: (r.alias_version, r.alias_weight) for r in rows if r.alias is not None})
    return plan


def _require_kind(sha256: str, kind: str | None, expected: str) -> None:
    if kind is None:
        raise Invalid(f"artifact {sha256} has not been uploaded")
    if kind != expected:
        raise Invalid(f"artifact {sha256} is {kind}, expected {expected}")


class RegistrationPlan:
    """Every row one registration writes, its promotion included, and the moves it answers with."""

    def __init__(self, adapter: Row[Any], number: int, spec: VersionSpec, base_model: str, weights_size: int,
                 caller: Caller, base_url: str, now: datetime) -> None:
        self.adapter, self.number, self.spec, self.caller, self.now = adapter, number, spec, caller, now
        self.base_url = base_url
        passed = spec.evaluation.passed if spec.evaluation is not None else None
        self.uri = artifact_uri(base_url, spec.weights_sha256)
        self.version = {
            "adapter_id": adapter.id, "version": number, "request_id": spec.request_id,
            "weights_sha256": spec.weights_sha256, "weights_size": weights_size, "config_sha256": spec.config_sha256,
            "base_model": base_model, "dataset_snapshot_id": spec.dataset_snapshot_id,
            "dataset_sha256": spec.dataset_sha256, "training_config": spec.training_config, "seed": spec.seed,
            "code_revision": spec.code_revision, "parent_version": spec.parent_version, "metrics": spec.metrics,
            "status": "rejected" if passed is False else "candidate", "registered_by": caller.actor,
            "registered_at": now,
        }
        self.events: list[dict[str, Any]] = []
        self.audits: list[dict[str, Any]] = []
        self.alias: dict[str, Any] | None = None
        self.alias_exists = False
        self.history: dict[str, Any] | None = None
        self.demote: int | None = None
        self.moves: list[dict[str, Any]] = []
        self.aliases: dict[str, tuple[int, float | None]] = {}
        self._event(RegistryEvent(
            event_type="adapter.version_registered", model=adapter.name, version=number, base_model=base_model,
            artifact_uri=self.uri, sha256=spec.weights_sha256, actor=caller.actor,
            details={"config_sha256": spec.config_sha256, "evaluation_passed": passed, "request_id": spec.request_id},
        ))
        self._audit("version.register", f"{adapter.name}@{number}",
                    {"request_id": spec.request_id, "weights_sha256": spec.weights_sha256, "reason": spec.reason})

    def _event(self, event: RegistryEvent) -> str:
        self.events.append(outbox_row(event, caller=self.caller, at=self.now))
        return str(event.event_id)

    def _audit(self, action: str, target: str, details: dict[str, Any]) -> None:
        self.audits.append(audit_row(caller=self.caller, action=action, target=target, details=details, at=self.now))

    def promote(self, current: dict[str, tuple[int, float | None]]) -> None:
        """The promotion policy's effect: `auto` makes a passing version production, `canary` the canary (both
        moves recorded as `aliases.move_alias` records them), `approval` has it wait as `pending_approval`
        (announced as `adapter.approval_requested`), `manual` moves nothing. `current` (alias -> (version,
        weight)) becomes the aliases after it."""
        adapter, number, spec = self.adapter, self.number, self.spec
        self.aliases = current
        policy = policy_of(adapter)
        if spec.evaluation is None or not spec.evaluation.passed or policy.mode == "manual":
            return
        if policy.mode == "approval":
            production = current.get(PRODUCTION)
            production_version = production[0] if production is not None else None
            self.version["status"] = PENDING_APPROVAL
            self._event(RegistryEvent(
                event_type="adapter.approval_requested", model=adapter.name, version=number,
                base_model=self.version["base_model"], artifact_uri=self.uri, sha256=spec.weights_sha256,
                actor=self.caller.actor, reason="evaluation passed; promotion waits for an admin's approval",
                details={"config_sha256": spec.config_sha256, "production_version": production_version},
            ))
            self._audit("version.approval_requested", f"{adapter.name}@{number}",
                        {"production_version": production_version})
            return
        alias, weight = (PRODUCTION, None) if policy.mode == "auto" else (CANARY, policy.canary_weight)
        before = current.get(alias)
        previous = before[0] if before is not None else None
        reason = f"{policy.mode} promotion: evaluation passed"
        self.alias = {"adapter_id": adapter.id, "alias": alias, "version": number, "weight": weight,
                      "updated_by": self.caller.actor, "updated_at": self.now}
        self.alias_exists = before is not None
        if alias == PRODUCTION:
            self.version["status"] = "production"
            if previous is not None and previous != number:
                self.demote = previous
        event_id = self._event(RegistryEvent(
            event_type="adapter.alias_moved", model=adapter.name, alias=alias, version=number,
            previous_version=previous, base_model=self.version["base_model"], artifact_uri=self.uri,
            sha256=spec.weights_sha256, actor=self.caller.actor, reason=reason[:1024], weight=weight,
            details={"config_sha256": spec.config_sha256},
        ))
        self.history = {"adapter_id": adapter.id, "alias": alias, "from_version": previous, "to_version": number,
                        "weight": weight, "actor": self.caller.actor, "reason": reason, "event_id": event_id,
                        "moved_at": self.now, "details": {}}
        self._audit("alias.move", f"{adapter.name}:{alias}",
                    {"from": previous, "to": number, "weight": weight, "reason": reason})
        self.moves = [{"adapter": adapter.name, "alias": alias, "version": number, "previous_version": previous,
                       "weight": weight, "event_id": event_id, "moved_at": iso(self.now),
                       "moved_by": self.caller.actor}]
        current[alias] = (number, weight)

    def _evaluation_values(self) -> dict[str, Any]:
        assert self.spec.evaluation is not None
        return {**self.spec.evaluation.model_dump(), "recorded_by": self.caller.actor, "recorded_at": self.now}

    def shape(self) -> WriteShape:
        return WriteShape(self.spec.evaluation is not None, len(self.events), len(self.audits),
                      None if self.alias is None else self.alias_exists, self.demote is not None)

    def params(self) -> dict[str, Any]:
        """The write statement's parameters (see `registration_statements.write_statement`)."""
        params: dict[str, Any] = {f"v_{k}": v for k, v in self.version.items()}
        if self.spec.evaluation is not None:
            params |= {f"e_{k}": v for k, v in self._evaluation_values().items()}
        for i, row in enumerate(self.events):
            params |= {f"o{i}_{k}": v for k, v in row.items()}
        for i, row in enumerate(self.audits):
            params |= {f"a{i}_{k}": v for k, v in row.items()}
        if self.alias is not None and self.history is not None:
            params |= {f"l_{k}": v for k, v in self.alias.items()} | {f"h_{k}": v for k, v in self.history.items()}
        if self.demote is not None:
            params |= {"d_adapter_id": self.adapter.id, "d_version": self.demote}
        return params

    def write(self, conn: Connection) -> int:
        """Write every row; one statement on PostgreSQL, one per table on SQLite. Returns the version's id."""
        shape, params = self.shape(), self.params()
        if conn.dialect.name == "postgresql":
            return int(conn.execute(write_statement(shape), params).scalar_one())
        statements = write_statements(shape)
        version_id = int(conn.execute(statements[0], params).scalar_one())
        for statement in statements[1:]:
            conn.execute(statement, params | {"version_id": version_id})
        return version_id

    def answer(self, version_id: int) -> dict[str, Any]:
        """The answer, built from what was written: a new version has no serving counts, failures or erasures."""
        answer = version_view(self.adapter.name, self.version_row(version_id), self.evaluation_row(), 0, [],
                              self.base_url)
        answer["aliases"] = {alias: version for alias, (version, _) in self.aliases.items()}
        answer["moves"] = self.moves
        return answer

    def version_row(self, version_id: int) -> SimpleNamespace:
        return SimpleNamespace(id=version_id, served_requests=0, served_tokens=0, retired_by=None, retired_at=None,
                               **{k: v for k, v in self.version.items() if k != "adapter_id"})

    def evaluation_row(self) -> SimpleNamespace | None:
        return None if self.spec.evaluation is None else SimpleNamespace(**self._evaluation_values())
