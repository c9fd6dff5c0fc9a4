"""The objects one drift process works with, built by `bootstrap.build_runtime` and run by `main`."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import uvicorn
from adaptloop_contracts import SetPaused
from adaptloop_kafka import EventProducer, ensure_topics, wait_for_broker
from fastapi import FastAPI

from adaptloop_drift.config import Settings
from adaptloop_drift.infra.policy_app import PolicyRuntime, control_topic, internal_topics
from adaptloop_drift.infra.registry_decisions import DecisionSender
from adaptloop_drift.infra.signal_processes import SignalSource


@dataclass
class DriftRuntime:
    """The drift service's parts: the signal consumer (in a thread, or child processes), the faust policy
    agent, the HTTP app and the rollout verdict sender, started and stopped by `main`."""

    settings: Settings
    producer: EventProducer
    signals: SignalSource
    policy: PolicyRuntime
    http: FastAPI
    decisions: DecisionSender | None = None
    """Sends rollout verdicts to the registry from this process (the signal consumer in a thread); None when they
    are only reported (no token or disabled), or sent by each signal process."""

    def prepare(self) -> None:
        """Wait for the broker and create every topic the service reads or writes, with its partitions."""
        s = self.settings
        wait_for_broker(s.kafka)
        ensure_topics(s.kafka, {**s.topic_names.all_with_partitions(), **internal_topics(s.app_id)})

    def start_http(self) -> threading.Thread:
        config = uvicorn.Config(self.http, host=self.settings.host, port=self.settings.port, log_level="warning",
                                access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name="drift-http", daemon=True)
        thread.start()
        return thread

    def set_paused(self, adapter: str, paused: bool, actor: str) -> None:
        command = SetPaused(adapter=adapter, paused=paused, actor=actor)
        self.producer.produce_raw(control_topic(self.settings.app_id), command.to_json_bytes(), key=adapter.encode(),
                                  headers=None)
        if self.producer.flush(10.0):
            raise RuntimeError("pause command not acknowledged by the broker")
