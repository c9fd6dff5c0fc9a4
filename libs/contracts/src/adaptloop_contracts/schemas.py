"""Export the JSON Schema of every event, and of the HTTP bodies other services send the registry."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from adaptloop_contracts import registry_api
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
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in HTTP_SHAPES.items():
        path = out_dir / f"{name}.schema.json"
        schema = model.model_json_schema()
        schema["title"] = f"{name} ({model.__name__})"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")
    for p in export(root) + export_http(root / "http"):
        print(p)
