"""Export the JSON Schema of every event, for users' own producers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from adaptloop_contracts.topics import TOPICS


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


if __name__ == "__main__":
    for p in export(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(p)
