"""Checkpoints pickle their many small records without per-object Python (the served-log index as columns, rated
events by constructor calls), and files written with plain pickle still load."""

from __future__ import annotations

import pickle
import pickletools
from pathlib import Path

from adaptloop_drift.infra.checkpoints import FORMAT, CheckpointStore
from adaptloop_drift.monitor import AdapterMonitors
from adaptloop_drift.ports import Checkpoint
from partition_state import fed_partition


def _served(monitors: AdapterMonitors) -> list[tuple[int, object]]:
    return list(monitors.served._served.items())


def test_a_checkpoint_round_trips_with_one_build_step_per_object_not_per_served_log(tmp_path: Path) -> None:
    monitors, judge = fed_partition(1000)
    store = CheckpointStore(tmp_path, "drift")
    store.save(Checkpoint(2, {"inference.logs": 1000}, monitors, judge))
    blob = (tmp_path / "drift" / "signals-p2.ckpt").read_bytes()
    builds = sum(1 for op, _arg, _pos in pickletools.genops(blob) if op.name == "BUILD")
    assert builds < 200, f"{builds} BUILD steps: served logs pickled through __getstate__"
    loaded = store.load(2)
    assert loaded is not None and loaded.offsets == {"inference.logs": 1000}
    assert _served(loaded.monitors) == _served(monitors)
    assert loaded.rollout is not None and loaded.rollout.served is loaded.monitors.served
    assert [list(b) for b in loaded.rollout.adapters["support"].recent.values()] == \
        [list(b) for b in judge.adapters["support"].recent.values()]


def test_a_checkpoint_written_with_plain_pickle_loads(tmp_path: Path) -> None:
    monitors, judge = fed_partition(300)
    store = CheckpointStore(tmp_path, "drift")
    (tmp_path / "drift" / "signals-p0.ckpt").write_bytes(pickle.dumps(
        {"format": FORMAT, "partition": 0, "offsets": {"t": 5}, "monitors": monitors, "rollout": judge},
        protocol=pickle.HIGHEST_PROTOCOL))
    loaded = store.load(0)
    assert loaded is not None and _served(loaded.monitors) == _served(monitors)
