"""The signal consumer's offsets against the broker's log, asked at every checkpoint (never per event).

`LogWatch.check` sets the lag of each held partition from the fetches' high watermarks, finds a log that
was replaced under a checkpoint (`offset_guard`: a next offset beyond the end, seen at two checks in a
row) and hands that partition to the consumer's reset, reports offsets deleted by retention, and tracks
partitions that stall with lag. `LogWatch.read_to_end` answers the idle rollout judges: were a
partition's logs and feedback read to the end the broker reports now?
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Container

from adaptloop_contracts import TopicNames
from adaptloop_contracts.inference import INFERENCE_FEEDBACK, INFERENCE_LOGS
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from adaptloop_drift import metrics
from adaptloop_drift.infra.offset_guard import BEFORE_START, BEYOND_END, ProgressWatch, Stall, out_of_range

log = logging.getLogger(__name__)

Reset = Callable[[Consumer, int, str, str, str], bool]
"""`(consumer, partition, topic, reason, detail) -> reset`: called with the lock held; False keeps the state."""


class LogWatch:
    """Lag, replaced logs, retention gaps and stalls of the partitions a signal consumer holds.

    `lock`, `states` and `offsets` are the consumer's own (read under its lock, never replaced);
    `names` maps each source topic's broker name to its base name.
    """

    def __init__(self, *, topics: TopicNames, names: dict[str, str], lock: threading.Lock,
                 states: Container[int], offsets: dict[int, dict[str, int]], reset: Reset,
                 stall_after_s: float) -> None:
        self._topics = topics
        self._names = names
        self._lock = lock
        self._states = states
        self._offsets = offsets
        self._reset = reset
        self.progress = ProgressWatch(stall_after_s)
        self._suspects: dict[tuple[str, int], int] = {}
        self._gaps: dict[tuple[str, int], int] = {}

    def check(self, consumer: Consumer) -> None:
        """Lag per partition from the fetches' high watermarks; a replaced log resets its partition.

        A next offset beyond the end must be seen at two checks in a row, so a watermark cached
        before the first fetch at a restored offset is never mistaken for the end of the log.
        """
        try:
            assignment = consumer.assignment()
            positions = consumer.position(assignment)
        except KafkaException as exc:
            log.debug("positions unavailable: %s", exc)
            return
        watched: dict[tuple[str, int], tuple[int, int]] = {}
        suspects: dict[tuple[str, int], int] = {}
        reset: set[int] = set()
        with self._lock:
            for tp, pos in zip(assignment, positions, strict=True):
                p, topic = tp.partition, tp.topic
                if p in reset or p not in self._states:
                    continue
                kept = self._offsets[p].get(topic)
                next_offset = kept if kept is not None else pos.offset
                low, high = consumer.get_watermark_offsets(tp, cached=True)
                if next_offset < 0 or high < 0:
                    continue
                key = (self._names[topic], p)
                metrics.LAG.labels(key[0], str(p)).set(max(0, high - next_offset))
                problem = out_of_range(next_offset, low, high)
                if problem == BEYOND_END:
                    if self._suspects.get((topic, p)) != next_offset:
                        suspects[(topic, p)] = next_offset
                        continue
                    if self._reset(consumer, p, topic, BEYOND_END,
                                   f"{topic}[{p}] next offset {next_offset} is beyond the partition's end {high}"):
                        reset.add(p)
                        continue
                elif problem == BEFORE_START and self._gaps.get((topic, p)) != next_offset:
                    self._gaps[(topic, p)] = next_offset
                    metrics.OFFSET_RESETS.labels(key[0], BEFORE_START).inc()
                    log.warning("%s[%d] next offset %d was deleted from the log (it starts at %d): the events "
                                "between were not seen; reading on from the start of the log", topic, p,
                                next_offset, low)
                watched[key] = (next_offset, high)
            self._suspects = suspects
        stalls = self.progress.observe(watched)
        metrics.STALLED_PARTITIONS.set(len(stalls))
        for stall in stalls:
            log.warning("no progress with lag: %s", stall)

    def read_to_end(self, consumer: Consumer, p: int, offsets: dict[str, int]) -> dict[str, bool] | None:
        """Per base topic (logs, feedback), whether `offsets` reach partition `p`'s end; None when the broker
        cannot say."""
        at_end: dict[str, bool] = {}
        for base in (INFERENCE_LOGS, INFERENCE_FEEDBACK):
            topic = self._topics(base)
            tp = TopicPartition(topic, p)
            # The end the last fetch reported first: while it is ahead of what was read, the partition is
            # not at its end (an end only moves on) and the broker is not asked. Only when it says "at the
            # end" is that confirmed with the broker's end now (a round trip that stalled this thread at
            # every checkpoint while the consumer was catching up).
            low, high = consumer.get_watermark_offsets(tp, cached=True)
            if 0 <= low <= high and offsets.get(topic, low) < high:
                at_end[base] = False
                continue
            try:
                low, high = consumer.get_watermark_offsets(tp, timeout=2.0, cached=False)
            except KafkaException as exc:
                log.debug("watermarks of %s[%d] unavailable: %s", topic, p, exc)
                return None
            at_end[base] = offsets.get(topic, low) >= high
        return at_end

    def forget(self, p: int) -> None:
        """Partition `p` starts over (assigned, revoked or reset): its progress so far says nothing."""
        self.progress.forget(p)

    @property
    def stalls(self) -> list[Stall]:
        return self.progress.stalls


def seek_to_start(consumer: Consumer, p: int) -> None:
    """Every assigned topic's partition `p` to its earliest offset (raises `KafkaException`)."""
    for tp in consumer.assignment():
        if tp.partition == p:
            consumer.seek(TopicPartition(tp.topic, p, OFFSET_BEGINNING))
