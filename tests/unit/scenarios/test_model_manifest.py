"""A model directory verifies only while its files are exactly those of its manifest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from adaptloop_scenarios.model_manifest import (
    ModelDirInvalid,
    combined_sha256,
    verify_model_dir,
    write_manifest,
)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text("{}\n")
    (tmp_path / "model.safetensors").write_bytes(b"\x00\x01weights")
    write_manifest(tmp_path, {"seed": 0})
    return tmp_path


def test_a_fresh_manifest_verifies(model_dir: Path) -> None:
    manifest = verify_model_dir(model_dir)
    assert set(manifest["files"]) == {"config.json", "model.safetensors"}
    assert manifest["weights_sha256"] == combined_sha256(manifest["files"])
    assert manifest["build"] == {"seed": 0}


def test_the_combined_digest_does_not_depend_on_listing_order() -> None:
    assert combined_sha256({"a": "1", "b": "2"}) == combined_sha256({"b": "2", "a": "1"})
    assert combined_sha256({"a": "1", "b": "2"}) != combined_sha256({"a": "2", "b": "1"})


def test_a_changed_file_fails(model_dir: Path) -> None:
    (model_dir / "model.safetensors").write_bytes(b"\x00\x01weightz")
    with pytest.raises(ModelDirInvalid, match=re.escape("model.safetensors")):
        verify_model_dir(model_dir)


def test_a_missing_or_extra_file_fails(model_dir: Path) -> None:
    (model_dir / "notes.txt").write_text("hello")
    with pytest.raises(ModelDirInvalid, match=re.escape("notes.txt")):
        verify_model_dir(model_dir)
    (model_dir / "notes.txt").unlink()
    (model_dir / "config.json").unlink()
    with pytest.raises(ModelDirInvalid, match=re.escape("config.json")):
        verify_model_dir(model_dir)


def test_a_directory_without_manifest_fails(tmp_path: Path) -> None:
    with pytest.raises(ModelDirInvalid, match=re.escape("manifest.json")):
        verify_model_dir(tmp_path)
