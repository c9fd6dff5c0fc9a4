"""Export the JSON Schema of every event, of the HTTP bodies other services send the registry, and of commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from adaptloop_contracts import drift, registry_api
from adaptloop_contracts.topics import TOPICS

HTTP_SHAPES: dict[str, type[BaseModel]] = {
    "serving-report": registry_api.ServingReport,
    "serving-report-answer": registry_api.ServingReportAnswer,
    "rollout-decision": registry_api.RolloutDecision,
    "rollout-decision-answer": registry_api.RolloutDecisionAnswer,
    "approval-answer": registry_api.ApprovalAnswer,
    "pending-approval": registry_api.PendingApproval,
}
"""Registry request and answer bodies, written to `<out_dir>/http/<name>.schema.json`."""
COMMAND_SHAPES: dict[str, type[BaseModel]] = {
    "drift-set-paused": drift.SetPaused,
}
"""Commands on a service's internal topics, written to `<out_dir>/commands/<name>.schema.json`."""


def export(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in TOPICS.values():
        path = out_dir / f"{spec.name}.schema.json"
        schema = spec.event_cls.model_json_schema()
        schema["title"] = f"{spec.name} ({spec.event_cls.__name__})"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def export_http(out_dir: Path) -> list[Path]:
    return export_shapes(out_dir, HTTP_SHAPES)


def export_commands(out_dir: Path) -> list[Path]:
    return export_shapes(out_dir, COMMAND_SHAPES)


def export_shapes(out_dir: Path, shapes: dict[str, type[BaseModel]]) -> list[Path]:
    """One `<name>.schema.json` per model, titled with its name and class."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in shapes.items():
        path = out_dir / f"{name}.schema.json"
        schema = model.model_json_schema()
        schema["title"] = f"{name} ({model.__name__})"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")
    for p in export(root) + export_http(root / "http") + export_commands(root / "commands"):
        print(p)
