"""Adapter files on local disk, at a path derived from name, version and hashes only.

Event payload paths are never trusted: files come from the registry by sha256 and are
verified before they are moved into place.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import uuid
from pathlib import Path

from adaptloop_inference.adapter_files import CONFIG_FILE, WEIGHTS_FILE, AdapterLimits, verify_adapter_dir
from adaptloop_inference.errors import AdapterRejected
from adaptloop_inference.plan import VersionArtifacts, VersionRef
from adaptloop_inference.ports import RegistryPort

_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


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
        return self._root / ref.name / f"{ref.version}-{artifacts.weights_sha256[:16]}-{artifacts.config_sha256[:8]}"

    async def materialize(self, ref: VersionRef, artifacts: VersionArtifacts) -> Path:
        """The verified directory of this version, downloading it first when missing."""
        final = self.path_for(ref, artifacts)
        async with self._locks.setdefault(final, asyncio.Lock()):
            return await self._materialize(final, artifacts)

    async def _materialize(self, final: Path, artifacts: VersionArtifacts) -> Path:
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
