"""The signal consumer's offset commits: the last step of a checkpoint, and their asynchronous outcome.

Offsets reach the broker only through here, and only offsets already saved in a checkpoint
(`HeldPartitions.save`): a restart reads from the checkpoint file, the committed offset is where a
member without one starts. `SignalConsumer.checkpoint` runs the steps in order (flush, save, commit).
"""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, KafkaError, TopicPartition

log = logging.getLogger(__name__)


def commit_offsets(consumer: Consumer, commits: list[TopicPartition], *, wait: bool) -> None:
    """Commit `commits`, waiting for the broker's answer or not (then `committed` logs a failure)."""
    if commits:
        try:
            if wait:
                consumer.commit(offsets=commits, asynchronous=False)
            else:
                consumer.commit(offsets=commits, asynchronous=True)
        except Exception as exc:
            log.warning("offset commit failed: %s", exc)


def committed(error: KafkaError | None, partitions: list[TopicPartition]) -> None:
    """Outcome of an asynchronous commit (the consumer's `on_commit`, served by `consume`)."""
    failed = [f"{tp.topic}[{tp.partition}]: {tp.error}" for tp in partitions if tp.error is not None]
    if error is not None or failed:
        log.warning("offset commit failed: %s", error or "; ".join(failed))
