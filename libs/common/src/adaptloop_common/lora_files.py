"""The checks a PEFT LoRA directory must pass before it is served: config, rank, target modules, tensors.

Pure functions over files, shared by the inference service (before the engine sees a version) and the
CLI's `adapters import` (before a version is registered), so a file the engine would refuse is refused
at import with the same reason. Only safetensors headers are read; no tensor data, no pickle.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
DEFAULT_SUPPORTED_MODULES = frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
_LAYER = re.compile(r"\.layers\.(\d+)\.")


class LoraFileRejected(Exception):
    """The files are not a LoRA adapter the engine can serve; `kind` classifies the reason."""

    def __init__(self, reason: str, *, kind: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass(frozen=True)
class LoraSummary:
    rank: int
    target_modules: tuple[str, ...]


@dataclass(frozen=True)
class BaseShapes:
    """The linear layers' (in, out) features of a Llama-style base model, from its `config.json`."""

    layers: int
    features: dict[str, tuple[int, int]]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BaseShapes:
        try:
            hidden = int(config["hidden_size"])
            heads = int(config["num_attention_heads"])
            kv_heads = int(config.get("num_key_value_heads") or heads)
            head_dim = int(config.get("head_dim") or hidden // heads)
            inter = int(config["intermediate_size"])
            layers = int(config["num_hidden_layers"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LoraFileRejected(f"the base model's config.json lacks {exc}", kind="base_mismatch") from exc
        return cls(layers=layers, features={
            "q_proj": (hidden, heads * head_dim), "k_proj": (hidden, kv_heads * head_dim),
            "v_proj": (hidden, kv_heads * head_dim), "o_proj": (heads * head_dim, hidden),
            "gate_proj": (hidden, inter), "up_proj": (hidden, inter), "down_proj": (inter, hidden)})

    @classmethod
    def of_model_dir(cls, directory: Path) -> BaseShapes:
        path = directory / "config.json"
        try:
            return cls.from_config(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise LoraFileRejected(f"cannot read the base model's {path}: {exc}", kind="base_mismatch") from exc


@dataclass(frozen=True)
class LoraLimits:
    """What the engine serves: ranks up to `max_rank`, these modules, and (when known) the base's shapes."""

    max_rank: int
    supported_modules: frozenset[str] = DEFAULT_SUPPORTED_MODULES
    base: BaseShapes | None = None


def check_config(path: Path, limits: LoraLimits) -> LoraSummary:
    """`adapter_config.json`: a LORA config whose rank and target modules the engine supports."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LoraFileRejected(f"{CONFIG_FILE} is not readable: {exc}", kind="missing_file") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LoraFileRejected(f"{CONFIG_FILE} is not JSON: {exc}", kind="corrupt_file") from exc
    if not isinstance(config, dict):
        raise LoraFileRejected(f"{CONFIG_FILE} is not a JSON object", kind="corrupt_file")
    if config.get("peft_type", "LORA") != "LORA":
        raise LoraFileRejected(f"peft_type {config.get('peft_type')!r} is not LORA", kind="unsupported_type")
    rank = config.get("r")
    if not isinstance(rank, int) or rank < 1:
        raise LoraFileRejected(f"rank {rank!r} is not a positive integer", kind="corrupt_file")
    ranks = [rank, *[v for v in (config.get("rank_pattern") or {}).values() if isinstance(v, int)]]
    if max(ranks) > limits.max_rank:
        raise LoraFileRejected(f"rank {max(ranks)} exceeds the maximum {limits.max_rank}", kind="rank_too_large")
    targets = config.get("target_modules")
    if isinstance(targets, str):
        targets = [targets]
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        raise LoraFileRejected(f"target_modules {targets!r} is not a list of module names", kind="unsupported_modules")
    unsupported = sorted(set(targets) - limits.supported_modules)
    if unsupported:
        raise LoraFileRejected(f"target modules {unsupported} are not supported", kind="unsupported_modules")
    if config.get("modules_to_save"):
        raise LoraFileRejected("modules_to_save is not supported", kind="unsupported_modules")
    return LoraSummary(rank=rank, target_modules=tuple(sorted(targets)))


def check_weights(path: Path, limits: LoraLimits) -> None:
    """Parse the safetensors header: a truncated or corrupt file, a rank the config hides, or (when the
    limits know the base model's shapes) a tensor that does not fit the base, is refused."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            keys = list(handle.keys())
            if not keys:
                raise LoraFileRejected(f"{WEIGHTS_FILE} holds no tensors", kind="corrupt_file")
            for key in keys:
                _check_tensor(key, handle.get_slice(key).get_shape(), limits)
    except (SafetensorError, OSError, ValueError) as exc:
        raise LoraFileRejected(f"{WEIGHTS_FILE} is not readable: {exc}", kind="corrupt_file") from exc


def _check_tensor(key: str, shape: list[int], limits: LoraLimits) -> None:
    if "lora_A" not in key and "lora_B" not in key:
        raise LoraFileRejected(f"tensor {key} is not a LoRA weight", kind="unsupported_modules")
    if len(shape) != 2:
        raise LoraFileRejected(f"tensor {key} has shape {shape}, expected 2 dimensions", kind="corrupt_file")
    is_a = "lora_A" in key
    rank = shape[0] if is_a else shape[1]
    if rank > limits.max_rank:
        raise LoraFileRejected(f"tensor {key} has rank {rank} > maximum {limits.max_rank}", kind="rank_too_large")
    module = key.split(".lora_")[0].rsplit(".", 1)[-1]
    if module not in limits.supported_modules:
        raise LoraFileRejected(f"tensor {key} targets unsupported module {module}", kind="unsupported_modules")
    base = limits.base
    if base is None:
        return
    layer = _LAYER.search(key)
    if layer is not None and int(layer.group(1)) >= base.layers:
        raise LoraFileRejected(f"tensor {key} is for layer {layer.group(1)} but the base model has {base.layers}",
                               kind="base_mismatch")
    features = base.features.get(module)
    if features is None:
        return
    expected = features[0] if is_a else features[1]
    actual = shape[1] if is_a else shape[0]
    if actual != expected:
        raise LoraFileRejected(
            f"tensor {key} has shape {shape}: the base model's {module} has {expected} "
            f"{'input' if is_a else 'output'} features, not {actual}", kind="base_mismatch")


def check_adapter_dir(directory: Path, limits: LoraLimits) -> LoraSummary:
    """Both files present and servable within `limits`."""
    for filename in (WEIGHTS_FILE, CONFIG_FILE):
        if not (directory / filename).is_file():
            raise LoraFileRejected(f"{filename} missing in {directory}", kind="missing_file")
    summary = check_config(directory / CONFIG_FILE, limits)
    check_weights(directory / WEIGHTS_FILE, limits)
    return summary
