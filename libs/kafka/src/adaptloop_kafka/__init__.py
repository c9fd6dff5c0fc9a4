"""Kafka plumbing shared by the services: nothing here knows any business rule."""

from adaptloop_kafka.admin import ensure_topics, wait_for_broker
from adaptloop_kafka.clients import BrokerTarget, new_admin, new_consumer, new_producer
from adaptloop_kafka.connection import KafkaClientSettings, KafkaConnection
from adaptloop_kafka.consumer import (
    GROUP_SESSION_TIMEOUT_MS,
    ConsumedEvent,
    EventConsumer,
    RejectedEvent,
    commit_offset,
    consumer_config,
    is_record,
)
from adaptloop_kafka.dedup import SeenEvents, remember
from adaptloop_kafka.dlq import DLQ_HEADERS, DeadLetterFailed, DeadLetters, SourceRecord, dead_letter_headers
from adaptloop_kafka.producer import EventProducer, PublishError
from adaptloop_kafka.runner import ConsumerThread
from adaptloop_kafka.tracing import context_from_headers, trace_headers

__all__ = [
    "DLQ_HEADERS",
    "GROUP_SESSION_TIMEOUT_MS",
    "BrokerTarget",
    "ConsumedEvent",
    "ConsumerThread",
    "DeadLetterFailed",
    "DeadLetters",
    "EventConsumer",
    "EventProducer",
    "KafkaClientSettings",
    "KafkaConnection",
    "PublishError",
    "RejectedEvent",
    "SeenEvents",
    "SourceRecord",
    "commit_offset",
    "consumer_config",
    "context_from_headers",
    "dead_letter_headers",
    "ensure_topics",
    "is_record",
    "new_admin",
    "new_consumer",
    "new_producer",
    "remember",
    "trace_headers",
    "wait_for_broker",
]
