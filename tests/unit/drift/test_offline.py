"""The offline evaluator runs the same stack over a JSON-lines file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from adaptloop_drift.offline import main
from adaptloop_drift.synthetic import errors, make_feedback, make_log


def test_offline_prints_detections_and_retrain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "events.jsonl"
    lines = [make_log("support", 0).model_dump_json()]
    errs = errors([0.1] * 400 + [0.9] * 300, 3)
    lines += [make_feedback("support", i, e).model_dump_json() for i, e in enumerate(errs)]
    lines.append("{broken")
    path.write_text("\n".join(lines) + "\n")
    assert main([str(path)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [next(k for k in o if k != "line") for o in out]
    assert kinds == ["drift.detected", "retrain.requested", "rejected"]
    assert out[0]["drift.detected"]["signal"] == "quality_error"
    assert out[0]["line"] > 401
