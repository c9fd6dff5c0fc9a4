"""Checks an adapter's files before the engine sees them: hashes, then the shared LoRA checks
(`adaptloop_common.lora_files`: rank, target modules, tensors).

Every check runs before loading so a bad version is refused without touching the engine
(one bad adapter must never disturb requests in flight).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from adaptloop_common import lora_files
from adaptloop_common.lora_files import CONFIG_FILE, WEIGHTS_FILE
from adaptloop_common.lora_files import LoraLimits as AdapterLimits
from adaptloop_common.lora_files import LoraSummary as AdapterSummary

from adaptloop_inference.errors import AdapterRejected
from adaptloop_inference.plan import VersionArtifacts

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "AdapterLimits", "AdapterSummary", "base_shapes", "check_config",
           "check_weights", "sha256_of", "verify_adapter_dir"]
_CHUNK = 1 << 20
log = logging.getLogger(__name__)


def base_shapes(model_dir: Path) -> lora_files.BaseShapes | None:
    """The served base model's layer shapes, so an adapter made for another base is refused before loading;
    None (shapes unchecked) when its config.json cannot say."""
    try:
        return lora_files.BaseShapes.of_model_dir(model_dir)
    except lora_files.LoraFileRejected as exc:
        log.warning("adapter shapes will not be checked against the base model: %s", exc.reason)
        return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_adapter_dir(directory: Path, artifacts: VersionArtifacts, limits: AdapterLimits) -> AdapterSummary:
    """Raise `AdapterRejected` with the reason unless both files match their hashes and limits."""
    for filename, expected in ((WEIGHTS_FILE, artifacts.weights_sha256), (CONFIG_FILE, artifacts.config_sha256)):
        path = directory / filename
        if not path.is_file():
            raise AdapterRejected(f"{filename} missing", kind="missing_file")
        actual = sha256_of(path)
        if actual != expected:
            raise AdapterRejected(f"{filename} sha256 {actual} does not match {expected}", kind="hash_mismatch")
    summary = check_config(directory / CONFIG_FILE, limits)
    check_weights(directory / WEIGHTS_FILE, limits)
    return summary


def check_config(path: Path, limits: AdapterLimits) -> AdapterSummary:
    try:
        return lora_files.check_config(path, limits)
    except lora_files.LoraFileRejected as exc:
        raise AdapterRejected(exc.reason, kind=exc.kind) from exc


def check_weights(path: Path, limits: AdapterLimits) -> None:
    """Parse the safetensors header: a corrupt file, a rank the config hides, a shape the base lacks, is refused."""
    try:
        lora_files.check_weights(path, limits)
    except lora_files.LoraFileRejected as exc:
        raise AdapterRejected(exc.reason, kind=exc.kind) from exc
