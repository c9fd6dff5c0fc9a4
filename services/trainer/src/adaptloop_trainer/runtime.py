"""The objects one trainer process works with, built by `bootstrap.build_runtime` and started by the app."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from adaptloop_common.service_database import ServiceDatabase
from adaptloop_kafka import EventProducer, ensure_topics

from adaptloop_trainer.config import Settings
from adaptloop_trainer.infra.db import SqlJobStore
from adaptloop_trainer.infra.ingest_client import IngestClient
from adaptloop_trainer.infra.kafka import KafkaTrainingEvents, RetrainRequestConsumer
from adaptloop_trainer.infra.registry_client import RegistryClient
from adaptloop_trainer.job_runner import JobRunner

log = logging.getLogger(__name__)


@dataclass
class TrainerRuntime:
    """The trainer's connected parts: `start` migrates, creates topics, resumes unfinished jobs and
    starts the retrain consumer; `stop` undoes it in reverse order."""

    settings: Settings
    database: ServiceDatabase
    store: SqlJobStore
    registry: RegistryClient
    ingest: IngestClient
    producer: EventProducer
    events: KafkaTrainingEvents
    runner: JobRunner
    consumer: RetrainRequestConsumer
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.database.upgrade()
        ensure_topics(self.settings.kafka, self.settings.topic_names.all_with_partitions())
        self.runner.start()
        recovered = self.runner.recover()
        if recovered:
            log.info("resuming %d unfinished jobs", recovered)
        thread = threading.Thread(target=self.consumer.run, name="retrain-consumer", daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        self.consumer.stop()
        for thread in self.threads:
            thread.join(5.0)
        self.runner.stop()
        self.producer.flush(5.0)
        self.registry.close()
        self.ingest.close()
