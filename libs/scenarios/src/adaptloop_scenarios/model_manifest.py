"""Manifest of a model directory: every file's sha256 and one combined digest.

Stdlib only, so any service can verify a model directory without torch.
``weights_sha256`` is the sha256 of the ``sha256sum``-style listing of all files
(sorted by name); it names the model directory as a whole, tokenizer included.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "adaptloop-model-manifest/1"
_CHUNK = 1 << 20


class ModelDirInvalid(Exception):
    """A model directory is missing files, has extra ones, or a digest differs."""


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def combined_sha256(files: Mapping[str, str]) -> str:
    """One digest over the name-sorted ``sha256  name`` lines of ``files``."""
    listing = "".join(f"{files[name]}  {name}\n" for name in sorted(files))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def _model_files(model_dir: Path) -> dict[str, str]:
    return {
        path.relative_to(model_dir).as_posix(): file_sha256(path)
        for path in sorted(model_dir.rglob("*"))
        if path.is_file() and path.name != MANIFEST_NAME
    }


def write_manifest(model_dir: Path, build: Mapping[str, Any]) -> dict[str, Any]:
    """Hash every file of ``model_dir`` and write ``manifest.json`` beside them."""
    files = _model_files(model_dir)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "weights_sha256": combined_sha256(files),
        "files": files,
        "build": dict(build),
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (model_dir / MANIFEST_NAME).write_text(text, encoding="utf-8")
    return manifest


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The parsed manifest of ``model_dir``; ModelDirInvalid if absent or unreadable."""
    try:
        manifest = json.loads((model_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelDirInvalid(f"{model_dir}: no readable {MANIFEST_NAME}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ModelDirInvalid(f"{model_dir}: {MANIFEST_NAME} is not {MANIFEST_FORMAT}")
    return manifest


def verify_model_dir(model_dir: Path) -> dict[str, Any]:
    """Check that the files on disk are exactly those of the manifest; return the manifest."""
    manifest = read_manifest(model_dir)
    listed: dict[str, str] = manifest.get("files", {})
    actual = _model_files(model_dir)
    if set(actual) != set(listed):
        missing = sorted(set(listed) - set(actual))
        extra = sorted(set(actual) - set(listed))
        raise ModelDirInvalid(f"{model_dir}: missing {missing}, unexpected {extra}")
    changed = sorted(name for name, digest in actual.items() if listed[name] != digest)
    if changed:
        raise ModelDirInvalid(f"{model_dir}: sha256 differs for {changed}")
    if combined_sha256(actual) != manifest.get("weights_sha256"):
        raise ModelDirInvalid(f"{model_dir}: weights_sha256 does not match the files")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """`python -m adaptloop_scenarios.model_manifest DIR`: write the manifest of your own model directory."""
    import argparse
    import json as _json

    parser = argparse.ArgumentParser(description="Write manifest.json (sha256 of every file) for a model directory.")
    parser.add_argument("model_dir", type=Path)
    args = parser.parse_args(argv)
    manifest = write_manifest(args.model_dir, {"source": "operator"})
    print(_json.dumps({"model_dir": str(args.model_dir), "weights_sha256": manifest["weights_sha256"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
