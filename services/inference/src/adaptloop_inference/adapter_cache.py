"""Adapter files on local disk, at a path derived from name, version and hashes only.

Event payload paths are never trusted: files come from the registry by sha256 and are
verified before they are moved into place. An entry found on disk is used only when it lies
inside the cache directory: a symbolic link (of the entry, its adapter folder or a file) leading
elsewhere is refused, removed (the link, never its target) and the version downloaded again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import uuid
from pathlib import Path

from adaptloop_inference.adapter_files import CONFIG_FILE, WEIGHTS_FILE, AdapterLimits, verify_adapter_dir
from adaptloop_inference.errors import AdapterRejected
from adaptloop_inference.plan import VersionArtifacts, VersionRef
from adaptloop_inference.ports import RegistryPort

log = logging.getLogger(__name__)
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class AdapterCache:
    """Downloads, verifies and keeps adapter versions under `root/<name>/<version>-<sha prefix>`."""

    def __init__(self, root: Path, *, registry: RegistryPort, limits: AdapterLimits) -> None:
        self._root = root
        self._registry = registry
        self._limits = limits
        self._locks: dict[Path, asyncio.Lock] = {}

    def path_for(self, ref: VersionRef, artifacts: VersionArtifacts) -> Path:
        if not _SAFE_NAME.match(ref.name):
            raise AdapterRejected(f"adapter name {ref.name!r} is not a safe path component", kind="bad_name")
        for label, digest in (("weights", artifacts.weights_sha256), ("config", artifacts.config_sha256)):
            if not _SHA256.match(digest):
                raise AdapterRejected(f"{label} sha256 {digest!r} is not a sha256 hex digest", kind="bad_name")
        return self._root / ref.name / f"{ref.version}-{artifacts.weights_sha256[:16]}-{artifacts.config_sha256[:8]}"

    async def materialize(self, ref: VersionRef, artifacts: VersionArtifacts) -> Path:
        """The verified directory of this version, downloading it first when missing."""
        final = self.path_for(ref, artifacts)
        async with self._locks.setdefault(final, asyncio.Lock()):
            return await self._materialize(final, artifacts)

    def outside(self, final: Path) -> Path | None:
        """The first part of the entry (its adapter folder, itself, a file) that leads outside the cache."""
        root = self._root.resolve()
        for part in (final.parent, final, final / WEIGHTS_FILE, final / CONFIG_FILE):
            if part.is_symlink() or (part.exists() and not part.resolve().is_relative_to(root)):
                return part
        return None

    async def _materialize(self, final: Path, artifacts: VersionArtifacts) -> Path:
        escaped = self.outside(final)
        if escaped is not None:
            log.warning("adapter cache entry %s leads to %s, outside %s: refused, downloading it again", escaped,
                        escaped.resolve(), self._root)
            if escaped.is_symlink():
                escaped.unlink()
            else:
                shutil.rmtree(final, ignore_errors=True)
        if final.is_dir():
            try:
                verify_adapter_dir(final, artifacts, self._limits)
                return final
            except AdapterRejected:
                shutil.rmtree(final, ignore_errors=True)
        staging = final.parent / f".staging-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            await self._registry.download_artifact(artifacts.weights_sha256, staging / WEIGHTS_FILE)
            await self._registry.download_artifact(artifacts.config_sha256, staging / CONFIG_FILE)
            verify_adapter_dir(staging, artifacts, self._limits)
            if final.is_dir():
                shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return final
