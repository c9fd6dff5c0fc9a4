"""The registry's HTTP shapes shared by inference, the judge and the registry: what they accept and refuse."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from adaptloop_contracts import RolloutDecision, ServingReport
from pydantic import ValidationError


def _report(**overrides: Any) -> dict[str, Any]:
    return {"report_id": str(uuid.uuid4()), "replica": "replica-a", "adapter": "support",
            "period_start": "2026-01-01T10:00:00Z", "period_end": "2026-01-01T11:00:10+01:00",
            "counts": {"2": 181, "3": 0}, **overrides}


def _decision(**overrides: Any) -> dict[str, Any]:
    return {"decision_id": str(uuid.uuid4()), "action": "rollback_production", "version": 3, "previous_version": 2,
            "reason": "regression on live ratings", "evidence": {"z": -4.1}, **overrides}


def test_a_serving_report_counts_versions_over_a_period_in_utc() -> None:
    report = ServingReport.model_validate(_report())
    assert report.counts == {"2": 181, "3": 0}
    assert report.period_end.utcoffset() is not None


@pytest.mark.parametrize("bad", [
    {"counts": {}}, {"counts": {"0": 1}}, {"counts": {"v2": 1}}, {"counts": {"2": -1}},
    {"period_start": "2026-01-01T10:00:00"}, {"period_end": "2026-01-01T09:59:59Z"},
    {"adapter": "Support"}, {"replica": ""}, {"extra": 1},
])
def test_a_serving_report_refuses(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ServingReport.model_validate(_report(**bad))


def test_a_rollout_decision_names_what_it_expects() -> None:
    decision = RolloutDecision.model_validate(_decision())
    assert (decision.action, decision.version, decision.previous_version) == ("rollback_production", 3, 2)
    graduate = RolloutDecision.model_validate(_decision(action="graduate_canary", previous_version=None))
    assert graduate.previous_version is None


@pytest.mark.parametrize("bad", [
    {"previous_version": None}, {"previous_version": 3}, {"action": "promote"}, {"reason": ""},
    {"evidence": {"blob": "x" * 9000}}, {"version": 0},
])
def test_a_rollout_decision_refuses(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RolloutDecision.model_validate(_decision(**bad))


@pytest.mark.parametrize("kind", ["http", "commands"])
def test_published_http_and_command_schemas_match_the_code(tmp_path: Path, kind: str) -> None:
    from adaptloop_contracts import schemas

    shapes, export = {"http": (schemas.HTTP_SHAPES, schemas.export_http),
                      "commands": (schemas.COMMAND_SHAPES, schemas.export_commands)}[kind]
    docs = Path(__file__).resolve().parents[3] / "docs" / "schemas" / kind
    written = export(tmp_path)
    assert {p.name for p in written} == {f"{name}.schema.json" for name in shapes}
    for path in written:
        published = docs / path.name
        assert published.exists(), f"{published} missing: run `make schemas`"
        assert published.read_text() == path.read_text(), f"{published} is stale: run `make schemas`"
