"""Adapter files are checked before the engine sees them."""

from __future__ import annotations

from pathlib import Path

import pytest
from adaptloop_inference.adapter_files import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    AdapterLimits,
    sha256_of,
    verify_adapter_dir,
)
from adaptloop_inference.errors import AdapterRejected
from adaptloop_inference.plan import VersionArtifacts
from inference_fakes import write_adapter

LIMITS = AdapterLimits(max_rank=16, supported_modules=frozenset({"q_proj", "k_proj", "v_proj", "o_proj"}))


def rejected(directory: Path, artifacts: VersionArtifacts) -> AdapterRejected:
    with pytest.raises(AdapterRejected) as caught:
        verify_adapter_dir(directory, artifacts, LIMITS)
    return caught.value


def test_a_valid_adapter_passes(tmp_path: Path) -> None:
    artifacts = write_adapter(tmp_path)
    summary = verify_adapter_dir(tmp_path, artifacts, LIMITS)
    assert summary.rank == 8 and summary.target_modules == ("q_proj", "v_proj")


def test_a_changed_byte_is_a_hash_mismatch(tmp_path: Path) -> None:
    artifacts = write_adapter(tmp_path)
    data = bytearray((tmp_path / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 1
    (tmp_path / WEIGHTS_FILE).write_bytes(bytes(data))
    assert rejected(tmp_path, artifacts).kind == "hash_mismatch"


def test_rank_above_the_maximum_is_refused(tmp_path: Path) -> None:
    assert rejected(tmp_path, write_adapter(tmp_path, rank=32)).kind == "rank_too_large"


def test_a_config_that_understates_the_rank_is_caught_in_the_tensors(tmp_path: Path) -> None:
    assert rejected(tmp_path, write_adapter(tmp_path, rank=32, config_rank=8)).kind == "rank_too_large"


def test_unsupported_target_modules_are_refused(tmp_path: Path) -> None:
    artifacts = write_adapter(tmp_path, modules=("q_proj", "lm_head"))
    assert rejected(tmp_path, artifacts).kind == "unsupported_modules"


def test_modules_to_save_is_refused(tmp_path: Path) -> None:
    artifacts = write_adapter(tmp_path, extra={"modules_to_save": ["embed_tokens"]})
    assert rejected(tmp_path, artifacts).kind == "unsupported_modules"


def test_a_corrupt_weights_file_is_refused(tmp_path: Path) -> None:
    write_adapter(tmp_path)
    (tmp_path / WEIGHTS_FILE).write_bytes(b"garbage" * 20)
    artifacts = VersionArtifacts(sha256_of(tmp_path / WEIGHTS_FILE), sha256_of(tmp_path / CONFIG_FILE))
    assert rejected(tmp_path, artifacts).kind == "corrupt_file"


def test_a_corrupt_config_is_refused(tmp_path: Path) -> None:
    write_adapter(tmp_path)
    (tmp_path / CONFIG_FILE).write_text("{not json")
    artifacts = VersionArtifacts(sha256_of(tmp_path / WEIGHTS_FILE), sha256_of(tmp_path / CONFIG_FILE))
    assert rejected(tmp_path, artifacts).kind == "corrupt_file"


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    artifacts = write_adapter(tmp_path)
    (tmp_path / CONFIG_FILE).unlink()
    assert rejected(tmp_path, artifacts).kind == "missing_file"
