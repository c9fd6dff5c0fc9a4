"""What the artifact store accepts: safetensors weights, the adapter's JSON config, JSONL dataset snapshots.

Pickle-based formats are refused outright (loading them runs code); every accepted file's content is
parsed before it is stored.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from adaptloop_registry.errors import Invalid

ArtifactKind = Literal["weights", "config", "dataset"]

KIND_BY_SUFFIX: dict[str, ArtifactKind] = {".safetensors": "weights", ".json": "config", ".jsonl": "dataset"}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz")
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_JSON_CONFIG_BYTES = 4 * 1024 * 1024
MAX_SAFETENSORS_HEADER_BYTES = 100 * 1024 * 1024


def kind_of_filename(filename: str) -> ArtifactKind:
    """The artifact kind a file name declares; refuses path-like names and pickle formats."""
    if "/" in filename or "\\" in filename or filename.startswith(".") or ".." in filename:
        raise Invalid(f"filename {filename!r} must be a plain file name, not a path")
    if not PLAIN_NAME.match(filename):
        raise Invalid(f"filename {filename!r} may contain only letters, digits, '.', '_' and '-' (128 at most)")
    lowered = filename.lower()
    if lowered.endswith(PICKLE_SUFFIXES):
        raise Invalid(f"{filename!r} is a pickle-based format, which can run code when loaded; "
                      "upload safetensors weights instead")
    for suffix, kind in KIND_BY_SUFFIX.items():
        if lowered.endswith(suffix):
            return kind
    raise Invalid(f"{filename!r} is not accepted; allowed: " + ", ".join(f"*{s}" for s in KIND_BY_SUFFIX))


def check_content(kind: ArtifactKind, path: Path) -> None:
    """Parse the staged file as its kind; raise `Invalid` with the reason when it is not one."""
    if kind == "weights":
        _check_safetensors(path)
    elif kind == "config":
        _check_json_object(path)
    else:
        _check_jsonl(path)


def _check_safetensors(path: Path) -> None:
    from safetensors import safe_open

    size = path.stat().st_size
    if size < 8:
        raise Invalid("not a safetensors file: shorter than its 8-byte header length")
    with open(path, "rb") as fh:
        header_len = int.from_bytes(fh.read(8), "little")
    if header_len > min(MAX_SAFETENSORS_HEADER_BYTES, size - 8):
        raise Invalid(f"not a safetensors file: header length {header_len} does not fit the file")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            if not list(handle.keys()):
                raise Invalid("safetensors file holds no tensors")
    except Invalid:
        raise
    except Exception as exc:  # the parser's errors carry the reason
        raise Invalid(f"not a valid safetensors file: {exc}") from exc


def _check_json_object(path: Path) -> None:
    if path.stat().st_size > MAX_JSON_CONFIG_BYTES:
        raise Invalid(f"JSON config larger than {MAX_JSON_CONFIG_BYTES} bytes")
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(f"not a UTF-8 JSON document: {exc}") from exc
    if not isinstance(value, dict):
        raise Invalid(f"the adapter config must be a JSON object, got {type(value).__name__}")


def _check_jsonl(path: Path) -> None:
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise Invalid(f"line {number} is not UTF-8 JSON: {exc}") from exc
            if not isinstance(value, dict):
                raise Invalid(f"line {number} must be a JSON object, got {type(value).__name__}")
