"""Local checkpoints: each partition's detector and judge state with the offsets it reflects, written atomically.

On assignment the consumer restores a partition's state and seeks to the saved offsets, so the
events after the checkpoint are replayed through the same detectors: deterministic, and the
alarms they raise carry the same event ids as before a crash.
"""

from __future__ import annotations

import copyreg
import dataclasses
import io
import os
import pickle
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path
from typing import Any

from adaptloop_drift.ports import Checkpoint
from adaptloop_drift.rollout.ratings import RatedEvent, ServedRequest

FORMAT = 1


def _by_constructor(cls: type) -> Callable[[Any], tuple[type, tuple[Any, ...]]]:
    """Pickle a slotted dataclass as its constructor call: its default `__getstate__` is Python code
    run per object (the judge's buffered ratings; the served-log index pickles as columns of its own)."""
    fields = dataclasses.fields(cls)
    assert len(fields) > 1 and all(f.init for f in fields), cls
    get = attrgetter(*(f.name for f in fields))
    return lambda obj: (cls, get(obj))


DISPATCH = {**copyreg.dispatch_table, ServedRequest: _by_constructor(ServedRequest),
            RatedEvent: _by_constructor(RatedEvent)}
"""How checkpoints pickle the state's many small records (files written before load the same)."""


def dumps(state: object) -> bytes:
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = DISPATCH
    pickler.dump(state)
    return buf.getvalue()


class CheckpointStore:
    def __init__(self, directory: Path, namespace: str) -> None:
        self.directory = directory / namespace.replace("/", "_")
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, partition: int) -> Path:
        return self.directory / f"signals-p{partition}.ckpt"

    def save(self, checkpoint: Checkpoint) -> int:
        """Write atomically (temp file, fsync, rename); returns the size in bytes."""
        # One pickle for both: the judge shares the monitors' `ServedLogs`, and stays sharing it.
        blob = dumps({"format": FORMAT, "partition": checkpoint.partition, "offsets": checkpoint.offsets,
                      "monitors": checkpoint.monitors, "rollout": checkpoint.rollout})
        path = self._path(checkpoint.partition)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return len(blob)

    def load(self, partition: int) -> Checkpoint | None:
        path = self._path(partition)
        if not path.exists():
            return None
        data = pickle.loads(path.read_bytes())
        if data.get("format") != FORMAT:
            return None
        return Checkpoint(data["partition"], data["offsets"], data["monitors"], data.get("rollout"))
