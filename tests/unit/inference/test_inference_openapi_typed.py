"""Every route of inference declares the shape of its success answers (the app built as `main` builds it)."""

from __future__ import annotations

from pathlib import Path

from adaptloop_contracts.openapi_check import untyped_operations
from adaptloop_inference.bootstrap import create_app
from adaptloop_inference.config import Settings


def test_every_inference_answer_has_a_schema(tmp_path: Path) -> None:
    app = create_app(Settings(base_model_dir=tmp_path, adapter_cache_dir=tmp_path / "cache", replica_id="r"))
    document = app.openapi()

    assert "/v1/chat/completions" in document["paths"]
    assert untyped_operations(document) == []
