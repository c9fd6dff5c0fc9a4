"""The dashboard's `GET /api/overview`: one document for the page, built from the services' typed answers."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts.drift_api import AdapterSignals
from adaptloop_contracts.http_common import Answer
from adaptloop_contracts.registry_answers import AdapterRecord, AliasHistoryEntry, VersionRecord
from adaptloop_contracts.registry_api import PendingApproval
from adaptloop_contracts.trainer_api import AdapterCosts, JobRecord


class AdapterOverview(Answer):
    adapter: AdapterRecord
    versions: list[VersionRecord]
    signals: AdapterSignals | None
    """The drift service's signal series (null: no drift state for it, or the service did not answer)."""
    costs: AdapterCosts | None


class AliasMoveSeen(AliasHistoryEntry):
    """A `production` move of one adapter (its alias history entry, with the adapter's name)."""

    adapter: str


class SwapsOverview(Answer):
    replica: str | None
    recent: list[dict[str, Any]]
    """The inference replica's recent swaps, newest first."""


class Overview(Answer):
    generated_at: float
    adapters: list[AdapterOverview]
    adapters_total: int
    approvals: list[PendingApproval]
    alias_moves: list[AliasMoveSeen]
    swaps: SwapsOverview
    jobs: list[JobRecord]
    errors: dict[str, str]
    """service -> why its part is empty (unreachable, an error answer, or an answer outside its contract)."""
