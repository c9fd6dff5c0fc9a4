"""Checks an adapter's files before the engine sees them: hashes, rank, target modules, tensors.

Every check runs before loading so a bad version is refused without touching the engine
(one bad adapter must never disturb requests in flight).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from adaptloop_inference.errors import AdapterRejected
from adaptloop_inference.plan import VersionArtifacts

WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class AdapterLimits:
    max_rank: int
    supported_modules: frozenset[str]


@dataclass(frozen=True)
class AdapterSummary:
    rank: int
    target_modules: tuple[str, ...]


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
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdapterRejected(f"{CONFIG_FILE} is not JSON: {exc}", kind="corrupt_file") from exc
    if not isinstance(config, dict):
        raise AdapterRejected(f"{CONFIG_FILE} is not a JSON object", kind="corrupt_file")
    if config.get("peft_type", "LORA") != "LORA":
        raise AdapterRejected(f"peft_type {config.get('peft_type')!r} is not LORA", kind="unsupported_type")
    rank = config.get("r")
    if not isinstance(rank, int) or rank < 1:
        raise AdapterRejected(f"rank {rank!r} is not a positive integer", kind="corrupt_file")
    ranks = [rank, *[v for v in (config.get("rank_pattern") or {}).values() if isinstance(v, int)]]
    if max(ranks) > limits.max_rank:
        raise AdapterRejected(f"rank {max(ranks)} exceeds the maximum {limits.max_rank}", kind="rank_too_large")
    targets = config.get("target_modules")
    if isinstance(targets, str):
        targets = [targets]
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        raise AdapterRejected(f"target_modules {targets!r} is not a list of module names", kind="unsupported_modules")
    unsupported = sorted(set(targets) - limits.supported_modules)
    if unsupported:
        raise AdapterRejected(f"target modules {unsupported} are not supported", kind="unsupported_modules")
    if config.get("modules_to_save"):
        raise AdapterRejected("modules_to_save is not supported", kind="unsupported_modules")
    return AdapterSummary(rank=rank, target_modules=tuple(sorted(targets)))


def check_weights(path: Path, limits: AdapterLimits) -> None:
    """Parse the safetensors header: a truncated or corrupt file, or a rank the config hides, is refused."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            keys = list(handle.keys())
            if not keys:
                raise AdapterRejected(f"{WEIGHTS_FILE} holds no tensors", kind="corrupt_file")
            for key in keys:
                shape = handle.get_slice(key).get_shape()
                _check_tensor(key, shape, limits)
    except SafetensorError as exc:
        raise AdapterRejected(f"{WEIGHTS_FILE} is not readable: {exc}", kind="corrupt_file") from exc
    except (OSError, ValueError) as exc:
        raise AdapterRejected(f"{WEIGHTS_FILE} is not readable: {exc}", kind="corrupt_file") from exc


def _check_tensor(key: str, shape: list[int], limits: AdapterLimits) -> None:
    if "lora_A" in key or "lora_B" in key:
        if len(shape) != 2:
            raise AdapterRejected(f"tensor {key} has shape {shape}, expected 2 dimensions", kind="corrupt_file")
        rank = shape[0] if "lora_A" in key else shape[1]
        if rank > limits.max_rank:
            raise AdapterRejected(f"tensor {key} has rank {rank} > maximum {limits.max_rank}", kind="rank_too_large")
        module = key.split(".lora_")[0].rsplit(".", 1)[-1]
        if module not in limits.supported_modules:
            raise AdapterRejected(f"tensor {key} targets unsupported module {module}", kind="unsupported_modules")
        return
    raise AdapterRejected(f"tensor {key} is not a LoRA weight", kind="unsupported_modules")
