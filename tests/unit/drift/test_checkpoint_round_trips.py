"""The signal consumer's periodic checkpoint does not wait on the broker: offsets are committed without
waiting for the answer, and a judge's "read to the end?" question asks the broker only when the end the
last fetch reported says so. Final and revoking checkpoints still wait for their commit."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from adaptloop_contracts import TopicNames
from adaptloop_drift.infra.checkpoints import CheckpointStore
from adaptloop_drift.infra.offset_commits import committed
from adaptloop_drift.infra.signal_consumer import SignalConsumer
from adaptloop_drift.monitor import AdapterMonitors, MonitorConfig
from adaptloop_drift.rollout.judge import RolloutJudge
from confluent_kafka import KafkaError, TopicPartition

NAMES = TopicNames("t.")
LOGS, FEEDBACK = NAMES("inference.logs"), NAMES("inference.feedback")


class _Producer:
    def flush(self, timeout: float) -> int:
        return 0


class _Consumer:
    """The calls the checkpoint and the idle judges make, with the ends of each partition's logs."""

    def __init__(self, cached: dict[str, tuple[int, int]], live: dict[str, tuple[int, int]]) -> None:
        self.cached, self.live = cached, live
        self.commits: list[tuple[list[tuple[str, int, int]], bool]] = []
        self.asked_broker: list[str] = []

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
        self.commits.append(([(tp.topic, tp.partition, tp.offset) for tp in offsets], asynchronous))

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float | None = None,
                              cached: bool = False) -> tuple[int, int]:
        if cached:
            return self.cached[tp.topic]
        self.asked_broker.append(tp.topic)
        return self.live[tp.topic]


def _signals(tmp_path: Path) -> SignalConsumer:
    signals = SignalConsumer(bootstrap="127.0.0.1:9", topics=NAMES, group_id="g", producer=_Producer(),  # type: ignore[arg-type]
                             store=CheckpointStore(tmp_path, "app"), monitor_config=MonitorConfig(),
                             max_adapters=10, checkpoint_interval_s=2.0)
    state = AdapterMonitors(signals.held.monitor_config)
    signals.states[0] = state
    signals.offsets[0] = {LOGS: 40, FEEDBACK: 30}
    signals.rollouts[0] = RolloutJudge(signals.held.rollout_config, state.served)
    return signals


def test_periodic_checkpoints_commit_without_waiting_and_the_last_one_waits(tmp_path: Path) -> None:
    signals = _signals(tmp_path)
    consumer = _Consumer({}, {})
    signals.checkpoint(consumer, [0], wait_for_commit=False)  # type: ignore[arg-type]
    signals.checkpoint(consumer, [0])  # type: ignore[arg-type]
    expected = [(LOGS, 0, 40), (FEEDBACK, 0, 30)]
    assert consumer.commits == [(expected, True), (expected, False)]
    assert signals.held.store.load(0) is not None, "the file is written before either commit"


def test_a_revoked_partition_is_committed_and_waited_for(tmp_path: Path) -> None:
    signals = _signals(tmp_path)
    consumer = _Consumer({}, {})
    signals._on_revoke(consumer, [TopicPartition(LOGS, 0), TopicPartition(FEEDBACK, 0)])  # type: ignore[arg-type]
    assert consumer.commits == [([(LOGS, 0, 40), (FEEDBACK, 0, 30)], False)]
    assert 0 not in signals.states


def test_asynchronous_commit_failures_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    # librdkafka sets a partition's error; a TopicPartition built here cannot carry one.
    failed = SimpleNamespace(topic=LOGS, partition=0, error=KafkaError(KafkaError.REBALANCE_IN_PROGRESS))
    with caplog.at_level(logging.WARNING):
        committed(None, [TopicPartition(FEEDBACK, 0, 30)])
        assert not caplog.records
        committed(None, [failed])  # type: ignore[list-item]
        committed(KafkaError(KafkaError._TIMED_OUT), [])
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["offset commit failed"] * 2
    assert f"{LOGS}[0]" in caplog.records[0].getMessage()


class _Judge:
    """Holds a move (so the consumer asks whether its partition was read to the end) and records the answer."""

    held = True

    def __init__(self) -> None:
        self.told: list[bool] = []
        self.queue: Any = type("Q", (), {"waiting": 0})()

    def caught_up(self, *, feedback: bool) -> list[Any]:
        self.told.append(feedback)
        return []


def test_a_judge_behind_the_fetched_end_is_answered_without_asking_the_broker(tmp_path: Path) -> None:
    signals = _signals(tmp_path)
    judge = signals.rollouts[0] = _Judge()  # type: ignore[assignment]
    consumer = _Consumer(cached={LOGS: (0, 900), FEEDBACK: (0, 900)}, live={LOGS: (0, 40), FEEDBACK: (0, 30)})
    signals._idle_judges(consumer)  # type: ignore[arg-type]
    assert consumer.asked_broker == [] and judge.told == []


def test_a_judge_at_the_fetched_end_is_confirmed_with_the_broker(tmp_path: Path) -> None:
    signals = _signals(tmp_path)
    judge = signals.rollouts[0] = _Judge()  # type: ignore[assignment]
    # The last fetch says both topics were read to the end; the broker says feedback has moved on since.
    consumer = _Consumer(cached={LOGS: (0, 40), FEEDBACK: (0, 30)}, live={LOGS: (0, 40), FEEDBACK: (0, 35)})
    signals._idle_judges(consumer)  # type: ignore[arg-type]
    assert consumer.asked_broker == [LOGS, FEEDBACK]
    assert judge.told == [False]
    # No fetched end known yet (-1, -1): the broker is asked, as before.
    judge.told.clear()
    consumer = _Consumer(cached={LOGS: (-1, -1), FEEDBACK: (-1, -1)}, live={LOGS: (0, 40), FEEDBACK: (0, 30)})
    signals._idle_judges(consumer)  # type: ignore[arg-type]
    assert consumer.asked_broker == [LOGS, FEEDBACK] and judge.told == [True]
