"""Content-addressed artifact storage. Paths derive only from the sha256, never from a request field.

`ArtifactStore` is the interface; `LocalArtifactStore` keeps files under one directory. An S3-compatible
store implements the same four calls (stage locally, publish by hash, open by hash, size by hash).
"""

from __future__ import annotations

import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class StagedUpload:
    """A temporary local file receiving an upload; published by hash or discarded."""

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path = path
        self._handle = handle
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._handle.write(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()

    def discard(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        self.path.unlink(missing_ok=True)


class ArtifactStore(ABC):
    @abstractmethod
    def stage(self) -> StagedUpload:
        """A fresh temporary file for an incoming upload."""

    @abstractmethod
    def publish(self, staged: StagedUpload, sha256: str) -> None:
        """Make the staged bytes readable under `sha256` (atomically; an existing copy is kept)."""

    @abstractmethod
    def size(self, sha256: str) -> int | None:
        """Bytes stored under `sha256`, or None when absent."""

    @abstractmethod
    def read(self, sha256: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The stored bytes in chunks."""


def _checked(sha256: str) -> str:
    if not SHA256_HEX.match(sha256):
        raise ValueError("artifact key must be 64 lower-case hex digits")
    return sha256


class LocalArtifactStore(ArtifactStore):
    """`<root>/sha256/ab/cd/<sha256>`, with uploads staged in `<root>/tmp` on the same file system."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._tmp = self.root / "tmp"

    def path_of(self, sha256: str) -> Path:
        key = _checked(sha256)
        return self.root / "sha256" / key[:2] / key[2:4] / key

    def stage(self) -> StagedUpload:
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="upload-")
        return StagedUpload(Path(name), os.fdopen(fd, "wb"))

    def publish(self, staged: StagedUpload, sha256: str) -> None:
        staged.close()
        dest = self.path_of(sha256)
        if dest.exists():
            staged.discard()
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(staged.path, 0o444)
        os.replace(staged.path, dest)

    def size(self, sha256: str) -> int | None:
        try:
            return self.path_of(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, sha256: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        with open(self.path_of(sha256), "rb") as fh:
            while chunk := fh.read(chunk_size):
                yield chunk
