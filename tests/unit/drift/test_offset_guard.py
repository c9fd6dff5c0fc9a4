"""Checkpointed offsets against the broker's log: out of range, and partitions that stall with lag."""

from __future__ import annotations

from adaptloop_drift.infra.offset_guard import BEFORE_START, BEYOND_END, ProgressWatch, out_of_range


def test_an_offset_past_the_end_or_before_the_start_is_out_of_range() -> None:
    assert out_of_range(38403, 0, 12) == BEYOND_END  # a broker that lost its data
    assert out_of_range(5, 100, 200) == BEFORE_START  # retention deleted what was not read
    assert out_of_range(12, 0, 12) is None and out_of_range(0, 0, 0) is None  # caught up
    assert out_of_range(40, -1001, -1001) is None  # no fetch answered yet: unknown, not out of range


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_partition_with_lag_that_does_not_advance_stalls_after_the_limit() -> None:
    clock = Clock()
    watch = ProgressWatch(stall_after_s=30, clock=clock)
    key = ("inference.logs", 0)
    assert watch.observe({key: (10, 50)}) == []
    clock.now = 29
    assert watch.observe({key: (10, 60)}) == []
    clock.now = 31
    [stall] = watch.observe({key: (10, 60)})
    assert (stall.next_offset, stall.high, stall.seconds) == (10, 60, 31)
    assert "inference.logs[0] at offset 10 of 60 (lag 50)" in str(stall)
    assert watch.stalls == [stall]
    watch.forget(0)
    assert watch.stalls == []


def test_a_partition_that_advances_or_has_no_lag_never_stalls() -> None:
    clock = Clock()
    watch = ProgressWatch(stall_after_s=30, clock=clock)
    moving, idle = ("inference.logs", 1), ("inference.feedback", 1)
    for step in range(10):
        clock.now = step * 20.0
        assert watch.observe({moving: (100 + step, 500), idle: (7, 7)}) == []
