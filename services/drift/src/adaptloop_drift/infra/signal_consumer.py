"""The hot path: batch-consumes logs, ratings and registry events, runs the detectors and the rollout judge.

It runs in its own thread, in each signal process of the drift worker (`signal_processes`) or in the
worker itself, with a confluent-kafka consumer configured by the shared `consumer_config` (group
`<app id>-signals`, range assignment so partition p of every topic lands together); dead letters go
to `TopicNames.dlq()` of their topic. The state of each partition (`held_partitions`) is
checkpointed with the offsets it reflects; offsets are committed only with a checkpoint
(`offset_commits`), and the consumer seeks to the checkpoint on assignment. A checkpoint that
outlived its log (a broker that lost its data, a topic created again) is found by `log_watch` at a
checkpoint, or here when the broker delivers an offset below the one expected: that partition's
state is dropped and it is read again from the earliest offset. The judge's verdicts are handed
to a `DecisionSender` (its own thread), never sent from here.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from adaptloop_contracts import InvalidEvent, RegistryEvent, TopicNames, adapter_of
from adaptloop_contracts.inference import INFERENCE_FEEDBACK, INFERENCE_LOGS
from adaptloop_contracts.registry import REGISTRY_EVENTS
from adaptloop_kafka import (
    BrokerTarget,
    consumer_config,
    context_from_headers,
    dead_letter_headers,
    is_record,
    trace_headers,
)
from confluent_kafka import OFFSET_BEGINNING, OFFSET_STORED, Consumer, KafkaException, Message, TopicPartition
from opentelemetry import trace

from adaptloop_drift import metrics
from adaptloop_drift.errors import UnmonitoredEvent
from adaptloop_drift.events import decode_log, decode_rating
from adaptloop_drift.handlers import BaseModelTraffic, handle_feedback, handle_inference_log
from adaptloop_drift.infra.held_partitions import HeldPartitions
from adaptloop_drift.infra.log_watch import LogWatch, seek_to_start
from adaptloop_drift.infra.offset_commits import commit_offsets, committed
from adaptloop_drift.infra.offset_guard import REWOUND
from adaptloop_drift.monitor import MonitorConfig
from adaptloop_drift.ports import Checkpoints, EventPublisher, RolloutDecisions
from adaptloop_drift.rollout.judge import RolloutConfig
from adaptloop_drift.rollout.trials import Verdict

log = logging.getLogger(__name__)
tracer = trace.get_tracer("adaptloop.drift")
SOURCE_TOPICS = (INFERENCE_LOGS, INFERENCE_FEEDBACK, REGISTRY_EVENTS)
MAX_POLL_INTERVAL_MS = 15_000


class SignalConsumer:
    """One group member's consume loop over the source topics, with the state of the partitions it holds."""

    def __init__(
        self,
        *,
        bootstrap: BrokerTarget,
        topics: TopicNames,
        group_id: str,
        producer: EventPublisher,
        store: Checkpoints,
        monitor_config: MonitorConfig,
        max_adapters: int,
        checkpoint_interval_s: float,
        client_overrides: dict[str, Any] | None = None,
        rollout_config: RolloutConfig | None = None,
        decisions: RolloutDecisions | None = None,
        stall_after_s: float = 120.0,
    ) -> None:
        self.topics = topics
        self.group_id = group_id
        self._producer = producer
        self._max_adapters = max_adapters
        self._interval = checkpoint_interval_s
        self._decisions = decisions
        # The shared group-member defaults (manual commits, earliest, session timeout), then this
        # consumer's own: range assignment keeps partition p of every topic together; the poll interval
        # is also the rebalance timeout, which bounds how long a rebalance waits for a member (several
        # signal processes of one worker join together; the loop polls at least every few seconds).
        own: dict[str, Any] = {"partition.assignment.strategy": "range", "fetch.wait.max.ms": 100,
                               "max.poll.interval.ms": MAX_POLL_INTERVAL_MS, "on_commit": committed,
                               **(client_overrides or {})}
        self._conf = consumer_config(bootstrap, group_id=group_id, overrides=own)
        self._names = {topics(b): b for b in SOURCE_TOPICS}
        self._dlq = {topics(b): topics.dlq(b) for b in SOURCE_TOPICS}
        self.held = HeldPartitions(store, monitor_config, rollout_config or RolloutConfig())
        # The held state under short names: the hot path reads them per event.
        self.states, self.offsets, self.rollouts, self.lock = (
            self.held.states, self.held.offsets, self.held.rollouts, self.held.lock)
        self.assigned = threading.Event()
        self._stop = threading.Event()
        self._leave = True
        self._alarm_pending = False
        self._processed = 0
        self._counted: dict[str, int] = dict.fromkeys(SOURCE_TOPICS, 0)
        """Events handled per topic since the metric was last updated (once per batch, not per event)."""
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None
        self._unread: dict[int, int] = {}
        """Per partition, where a topic without a checkpointed offset is read from."""
        self._skip: set[int] = set()
        """Partitions reset during the current batch: their remaining messages belong to the old position."""
        self.log_watch = LogWatch(topics=topics, names=self._names, lock=self.lock, states=self.states,
                                  offsets=self.offsets, reset=self._reset_partition, stall_after_s=stall_after_s)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_guarded, name="drift-signals", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0, *, leave_group: bool = True) -> None:
        """Stop after a final checkpoint and commit; without `leave_group` the consumer is not closed (the group
        drops the member after its session timeout instead: for a process that exits right after)."""
        self._leave = leave_group
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run_guarded(self) -> None:
        try:
            self.run()
        except BaseException as exc:
            self.failure = exc
            log.exception("signal consumer stopped on an error")

    def run(self) -> None:
        consumer = Consumer(self._conf)
        consumer.subscribe(list(self._names), on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_revoke)
        self._consumer = consumer
        last = time.monotonic()
        count_at_last = 0
        try:
            while not self._stop.is_set():
                batch = consumer.consume(1000, 0.2)
                self._skip.clear()
                if batch:
                    with self.lock:
                        for msg in batch:
                            self._handle(msg)
                    self._count_events()
                now = time.monotonic()
                if self._alarm_pending or now - last >= self._interval:
                    metrics.EVENTS_PER_SECOND.set((self._processed - count_at_last) / max(now - last, 1e-6))
                    count_at_last = self._processed
                    last = now
                    self.checkpoint(consumer, list(self.states), wait_for_commit=False)
                    self.log_watch.check(consumer)
                    self._idle_judges(consumer)
            self.checkpoint(consumer, list(self.states))
        finally:
            if self._leave:
                consumer.close()

    # -- assignment ------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self.lock:
            for tp in partitions:
                p = tp.partition
                if p not in self.states:
                    ckpt = self.held.restore(p)
                    if ckpt is not None and ckpt.rollout is not None:  # its undelivered verdicts queued again
                        self._dispatch([v for v in ckpt.rollout.verdicts() if v.delivery == "pending"], fresh=False)
                    self.log_watch.forget(p)
                    # A checkpoint without an offset for a topic holds none of its events (a partition reset
                    # when its log was replaced, or never read): from the start, not from a committed offset
                    # that may be the replaced log's. No checkpoint at all: from the committed offsets.
                    self._unread[p] = OFFSET_BEGINNING if ckpt else OFFSET_STORED
                    if ckpt:
                        log.info("restored partition %d from checkpoint: %d versions, offsets %s",
                                 p, len(ckpt.monitors), ckpt.offsets)
                tp.offset = self.offsets[p].get(tp.topic, self._unread.get(p, OFFSET_STORED))
        consumer.assign(partitions)
        self.assigned.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        gone = sorted({tp.partition for tp in partitions})
        self.checkpoint(consumer, gone)
        with self.lock:
            for p in gone:
                self.log_watch.forget(p)
                self._unread.pop(p, None)
                self.held.drop(p)

    # -- one message -----------------------------------------------------------------------
    def _handle(self, msg: Message) -> None:
        if not is_record(msg):
            return
        topic = msg.topic() or ""
        base = self._names[topic]
        p = msg.partition() or 0
        state = self.states.get(p)
        if state is None or p in self._skip:
            return
        expected = self.offsets[p].get(topic)
        if expected is not None and (msg.offset() or 0) < expected:
            self._reset_partition(self._consumer, p, topic, REWOUND,
                                  f"{topic}[{p}] delivered offset {msg.offset()} below the next offset {expected}")
            return
        judge = self.rollouts[p]
        verdicts: list[Verdict] = []
        try:
            if base == INFERENCE_LOGS:
                log_event = decode_log(msg.value())
                found = handle_inference_log(log_event, monitors=state, max_adapters=self._max_adapters)
                verdicts = judge.observe_log(adapter_of(log_event.model), log_event)
            elif base == INFERENCE_FEEDBACK:
                rating = decode_rating(msg.value())
                found = handle_feedback(rating, monitors=state, max_adapters=self._max_adapters)
                verdicts = judge.observe_feedback(adapter_of(rating.model), rating)
            else:
                reg = RegistryEvent.from_json_bytes(msg.value())
                if reg.event_type in ("adapter.version_registered", "adapter.alias_moved"):
                    state.announce(reg.model, reg.version)
                verdicts = judge.observe_registry(reg)
                found = []
        except InvalidEvent as exc:
            self._dead_letter(msg, exc.reason)
            found = []
        except UnmonitoredEvent as exc:
            metrics.UNMONITORED.labels("dead_lettered").inc()
            self._dead_letter(msg, exc.reason)
            found = []
        except BaseModelTraffic:
            metrics.UNMONITORED.labels("base_model").inc()
            found = []
        self.offsets[p][topic] = (msg.offset() or 0) + 1
        self._processed += 1
        self._counted[base] += 1
        self._dispatch(verdicts)
        for detected in found:
            judge.observe_detection(detected)
            ctx = context_from_headers(msg.headers())
            with tracer.start_as_current_span("drift.detected", context=ctx) as span:
                span.set_attribute("adaptloop.adapter", detected.model)
                span.set_attribute("adaptloop.signal", detected.signal)
                self._producer.publish("drift.detected", detected, key=detected.model, headers=trace_headers())
            metrics.ALARMS.labels(detected.signal, detected.severity).inc()
            log.info("drift detected: %s v%s %s (%s) at %s", detected.model, detected.adapter_version,
                     detected.signal, detected.severity, detected.trigger_event_id)
            self._alarm_pending = True

    def _count_events(self) -> None:
        for base, n in self._counted.items():
            if n:
                metrics.EVENTS.labels(base).inc(n)
                self._counted[base] = 0

    # -- rollout verdicts -------------------------------------------------------------------
    def _dispatch(self, verdicts: list[Verdict], *, fresh: bool = True) -> None:
        """Hand verdicts to the sender (or mark them observed when none is configured); checkpoint soon."""
        for verdict in verdicts:
            if fresh:
                metrics.ROLLOUT_VERDICTS.labels(verdict.action).inc()
                log.info("rollout verdict %s: %s v%d of %s: %s", verdict.decision_id, verdict.action,
                         verdict.version, verdict.adapter, verdict.reason)
            if self._decisions is None:
                verdict.delivery = "observed"
                metrics.ROLLOUT_DELIVERIES.labels(verdict.action, "observed").inc()
            else:
                self._decisions.submit(verdict)
            self._alarm_pending = True

    def _idle_judges(self, consumer: Consumer) -> None:
        """Tell a judge that holds alias moves (or ratings waiting for logs) when its partition's logs and
        feedback are read to the end the broker reports now: nothing older than what it holds is to come."""
        with self.lock:
            busy = {p: dict(self.offsets[p]) for p, j in self.rollouts.items()
                    if p in self.offsets and (j.held or j.queue.waiting)}
        for p, offsets in busy.items():
            at_end = self.log_watch.read_to_end(consumer, p, offsets)
            if at_end is None:
                return
            if at_end[INFERENCE_LOGS]:
                with self.lock:
                    judge = self.rollouts.get(p)
                    if judge is not None and self.offsets.get(p) == offsets:
                        self._dispatch(judge.caught_up(feedback=at_end[INFERENCE_FEEDBACK]))

    def record_delivery(self, decision_id: str, outcome: str, detail: str | None) -> None:
        """The sender's outcome for a verdict, kept in the judge's state (and so in the checkpoint)."""
        with self.lock:
            if self.held.record_delivery(decision_id, outcome, detail):
                self._alarm_pending = True

    def _dead_letter(self, msg: Message, reason: str) -> None:
        topic = msg.topic() or ""
        headers = list(msg.headers() or []) + dead_letter_headers(
            topic=topic, partition=msg.partition() or 0, offset=msg.offset() or 0, reason=reason,
            consumer=self.group_id)
        self._producer.produce_raw(self._dlq[topic], msg.value(), key=msg.key(), headers=headers)
        metrics.DEAD_LETTERED.labels(topic).inc()
        log.warning("dead-lettered %s[%s]@%s: %s", topic, msg.partition(), msg.offset(), reason[:200])

    # -- checkpoints -----------------------------------------------------------------------
    def checkpoint(self, consumer: Consumer, partitions: list[int], *, wait_for_commit: bool = True) -> None:
        """Flush what was published, then save state with offsets, then commit those offsets.

        The periodic checkpoints commit without waiting for the broker's answer (`wait_for_commit`
        False; a failure is logged by `committed` and the next checkpoint commits again): the saved
        file, not the committed offset, is where a restart reads from, and waiting for the commit's
        round trip stalled this thread at every checkpoint. The final checkpoint and one for revoked
        partitions wait, so the next member of the group finds the offsets committed.
        """
        remaining = self._producer.flush(30.0)
        if remaining:
            raise RuntimeError(f"{remaining} drift/dead-letter messages not acknowledged; not checkpointing")
        with self.lock:
            total, commits = self.held.save(partitions)
            self._alarm_pending = False
            self.held.report()
        if total:
            metrics.CHECKPOINT_BYTES.set(total)
        commit_offsets(consumer, commits, wait=wait_for_commit)

    # -- a replaced log ----------------------------------------------------------------------
    def _reset_partition(self, consumer: Consumer, p: int, topic: str, reason: str, detail: str) -> bool:
        """Read partition `p` of every topic again from the start with fresh state (the caller holds the lock).

        Its detectors, judge and offsets describe a log that no longer exists; keeping them would
        mix two histories. Returns False (state kept, tried again later) when the seek fails.
        """
        try:
            seek_to_start(consumer, p)
        except KafkaException as exc:
            log.warning("partition %d: %s; seek to its start failed (%s), trying again", p, detail, exc)
            return False
        log.warning("partition %d: %s; the log was replaced (broker data lost or topic created again): dropping "
                    "the partition's detector and judge state (%d versions) and reading it again from the "
                    "earliest offset", p, detail, len(self.states[p]))
        metrics.OFFSET_RESETS.labels(self._names.get(topic, topic), reason).inc()
        self.held.start_over(p)
        self.log_watch.forget(p)
        self._skip.add(p)
        self._alarm_pending = True
        return True

    def stalls(self) -> list[str]:
        """Partitions with lag whose next offset has not moved for `stall_after_s` (for readiness)."""
        return [str(s) for s in self.log_watch.stalls]

    def readiness(self) -> tuple[bool, str]:
        """Ready once the group assigned this consumer its partitions and none has lag without advancing."""
        if self.failure is not None:
            return False, f"signal consumer failed: {self.failure}"
        if not (self.assigned.is_set() and self.alive):
            return False, "waiting for partition assignment"
        stalls = self.stalls()
        if stalls:
            return False, "consumer not advancing with lag: " + "; ".join(stalls)
        return True, "partitions assigned, advancing"

    # -- read-only views (GET /v1/state, /v1/adapters/{name}/signals, the signal processes' answers) ---------
    def partitions(self) -> list[int]:
        """The partitions (of every source topic) this consumer holds now."""
        return self.held.partitions()

    def snapshot(self) -> list[dict[str, Any]]:
        return self.held.snapshot()

    def rollout_snapshot(self) -> list[dict[str, Any]]:
        return self.held.rollout_snapshot()

    def series(self, adapter: str) -> list[dict[str, Any]]:
        """The adapter's signal series per version (GET /v1/adapters/{name}/signals)."""
        return self.held.series(adapter)
