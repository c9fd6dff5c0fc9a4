"""The served-log index pickles as columns, answers the same after loading, and checkpoints written
before the columns (its plain `__dict__`) still load, with the judge and the monitors sharing it."""

from __future__ import annotations

import copyreg
import io
import pickle
import pickletools
from pathlib import Path
from typing import Any

from adaptloop_drift.infra.checkpoints import DISPATCH, FORMAT, CheckpointStore, dumps
from adaptloop_drift.ports import Checkpoint
from adaptloop_drift.rollout.ratings import ServedLogs, ServedRequest
from adaptloop_drift.synthetic import make_log
from partition_state import fed_partition

_VERSIONS = (1, 2, None)


def _log(i: int) -> Any:
    return make_log(f"a{i % 2}", i, seed=7, version=_VERSIONS[i % 3])


def _record(served: ServedLogs, start: int, stop: int) -> list[ServedRequest]:
    return [served.record(f"a{i % 2}", _log(i)) for i in range(start, stop)]


def _old_dumps(state: object) -> bytes:
    """Pickle as checkpoints did before `ServedLogs` had a state of its own: its `__dict__`, `_served` included."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**DISPATCH, ServedLogs: lambda o: (copyreg.__newobj__, (ServedLogs,), o.__dict__)}
    pickler.dump(state)
    return buf.getvalue()


def _assert_same(loaded: ServedLogs, served: ServedLogs) -> None:
    assert loaded.capacity == served.capacity
    assert list(loaded._served.items()) == list(served._served.items())  # same logs, oldest first
    assert loaded._counts == served._counts
    for i in range(0, 200):
        assert loaded.lookup(_log(i).event_id) == served.lookup(_log(i).event_id)


def test_the_index_round_trips_and_goes_on_recording_and_forgetting_as_before() -> None:
    served = ServedLogs(capacity=50)
    _record(served, 0, 80)
    for blob in (dumps(served), pickle.dumps(served)):
        loaded = pickle.loads(blob)
        _assert_same(loaded, served)
        assert all(type(r.at) is float and type(r.ordinal) is int for r in loaded._served.values())
        original = pickle.loads(blob)
        # Later logs get the same ordinals and push out the same (oldest) logs.
        assert _record(loaded, 80, 130) == _record(original, 80, 130)
        _assert_same(loaded, original)
        assert loaded.lookup(_log(79).event_id) is None and loaded.lookup(_log(80).event_id) is not None
    empty = pickle.loads(dumps(ServedLogs(capacity=3)))
    assert len(empty) == 0 and empty.capacity == 3
    assert empty.record("a0", _log(0)) == ServedRequest(1, _log(0).occurred_at.timestamp(), 1)


def test_a_checkpoint_pickles_the_index_without_an_object_per_log() -> None:
    served = ServedLogs()
    _record(served, 0, 400)
    ops = [op.name for op, _arg, _pos in pickletools.genops(dumps(served))]
    assert ops.count("REDUCE") + ops.count("NEWOBJ") < 10, "served logs pickled one object each"
    assert [op.name for op, _arg, _pos in pickletools.genops(_old_dumps(served))].count("REDUCE") >= 400


def test_a_checkpoint_written_before_the_columns_loads_with_the_index_shared(tmp_path: Path) -> None:
    # More logs than the index keeps: it has forgotten some.
    monitors, judge = fed_partition(600, seed=3, served_logs=500, versions=2)
    blob = _old_dumps({"format": FORMAT, "partition": 1, "offsets": {"t": 600}, "monitors": monitors,
                       "rollout": judge})
    assert b"_served_columns" not in blob and blob.count(b"ServedRequest") == 1  # the old form: one call per log
    store = CheckpointStore(tmp_path, "drift")
    (tmp_path / "drift" / "signals-p1.ckpt").write_bytes(blob)
    loaded = store.load(1)
    assert loaded is not None and loaded.rollout is not None
    _assert_same(loaded.monitors.served, monitors.served)
    assert loaded.rollout.served is loaded.monitors.served and loaded.rollout.queue.served is loaded.monitors.served
    # Saved again, it is written as columns and loads the same.
    store.save(loaded)
    again = store.load(1)
    assert again is not None and again.rollout is not None
    assert b"_served_columns" in (tmp_path / "drift" / "signals-p1.ckpt").read_bytes()
    _assert_same(again.monitors.served, monitors.served)
    assert again.rollout.served is again.monitors.served and again.rollout.queue.served is again.monitors.served


def test_the_judge_and_the_monitors_share_the_loaded_index(tmp_path: Path) -> None:
    monitors, judge = fed_partition(300, seed=3, served_logs=500, versions=2)
    store = CheckpointStore(tmp_path, "drift")
    store.save(Checkpoint(0, {"t": 300}, monitors, judge))
    loaded = store.load(0)
    assert loaded is not None and loaded.rollout is not None
    served = loaded.monitors.served
    assert loaded.rollout.served is served and loaded.rollout.queue.served is served
    _assert_same(served, monitors.served)
    # A log recorded through the monitors after loading is the one the judge's ratings are joined to.
    log = make_log("support", 300, seed=3, version=2)
    loaded.monitors.observe_log("support", log)
    assert loaded.rollout.queue.served.lookup(log.event_id) is served.lookup(log.event_id) is not None
