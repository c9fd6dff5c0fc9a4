"""The only place librdkafka clients are constructed, so every one gets the shared connection settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from adaptloop_kafka.connection import KafkaConnection

BrokerTarget = str | KafkaConnection
"""A `KafkaConnection`, or a bare bootstrap string completed from `ADAPTLOOP_KAFKA_*`."""


def new_producer(target: BrokerTarget, defaults: Mapping[str, Any] | None = None, *,
                 overrides: Mapping[str, Any] | None = None) -> Producer:
    return Producer(KafkaConnection.of(target).client_config(defaults, overrides=overrides))


def new_consumer(target: BrokerTarget, defaults: Mapping[str, Any] | None = None, *,
                 overrides: Mapping[str, Any] | None = None) -> Consumer:
    return Consumer(KafkaConnection.of(target).client_config(defaults, overrides=overrides))


def new_admin(target: BrokerTarget) -> AdminClient:
    return AdminClient(KafkaConnection.of(target).client_config())
