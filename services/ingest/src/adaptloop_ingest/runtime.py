"""The objects one ingest process works with, built by `bootstrap.build_runtime` and started by the app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from adaptloop_common.http import ReadinessCheck
from adaptloop_kafka import EventProducer

from adaptloop_ingest.api.deps import Components
from adaptloop_ingest.infra.kafka import BatchPublisher, ConsumerThread
from adaptloop_ingest.retention import RetentionSweeper

log = logging.getLogger(__name__)


@dataclass
class IngestRuntime:
    """The connected parts, started by the app's lifespan and stopped in reverse order."""

    components: Components
    checks: dict[str, ReadinessCheck]
    publisher: BatchPublisher | None = None
    consumer: ConsumerThread | None = None
    dead_letter_producer: EventProducer | None = None
    retention: RetentionSweeper | None = None

    def start(self) -> None:
        if self.publisher is not None:
            self.publisher.start()
        if self.consumer is not None:
            self.consumer.start()
        if self.retention is not None:
            self.retention.start()

    def stop(self) -> None:
        if self.retention is not None:
            self.retention.stop()
        if self.consumer is not None:
            self.consumer.stop()
        if self.dead_letter_producer is not None:
            self.dead_letter_producer.flush()
            self.dead_letter_producer.raw.close()
        if self.publisher is not None:
            undelivered = self.publisher.close()
            if undelivered:
                log.error("%d events were still undelivered at shutdown", undelivered)
