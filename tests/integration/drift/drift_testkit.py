"""Runs the drift service as a subprocess against the test run's broker, one topic prefix per test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from adaptloop_common.auth import token_digest
from adaptloop_contracts import TopicNames
from adaptloop_kafka import GROUP_SESSION_TIMEOUT_MS
from confluent_kafka import Consumer, Message

OPERATOR_TOKEN = "drift-test-operator-token"


@dataclass
class DriftProcess:
    bootstrap: str
    topics: TopicNames
    data_dir: Path
    port: int
    log_path: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, ready_timeout_s: float = 90.0) -> None:
        env = dict(os.environ)
        env.update({
            "ADAPTLOOP_DRIFT_KAFKA_BOOTSTRAP": self.bootstrap,
            "ADAPTLOOP_DRIFT_TOPIC_PREFIX": self.topics.prefix,
            "ADAPTLOOP_DRIFT_PORT": str(self.port),
            "ADAPTLOOP_DRIFT_DATA_DIR": str(self.data_dir),
            "ADAPTLOOP_DRIFT_TOKENS": f"tester:trainer:{token_digest(OPERATOR_TOKEN)}",
            "ADAPTLOOP_DRIFT_CHECKPOINT_INTERVAL_S": "0.5",
            "OTEL_SDK_DISABLED": "true",
            **self.env_extra,
        })
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([sys.executable, "-m", "adaptloop_drift"], env=env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"drift service exited with {self.proc.returncode}: {self.tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        pytest.fail(f"drift service not ready within {ready_timeout_s}s: {self.tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout_s)

    def ratings(self, adapter: str | None = None) -> int:
        """Ratings in the detector state (of one adapter, or of all)."""
        versions = httpx.get(f"{self.url}/v1/state", timeout=5).json()["adapters"]
        return sum(v["ratings"] for v in versions if adapter is None or v["adapter"] == adapter)

    def wait_for_ratings(self, count: int, *, timeout_s: float, adapter: str | None = None) -> int:
        """Poll until the state holds `count` ratings (or the deadline passes); returns the last count seen."""
        deadline = time.monotonic() + timeout_s
        seen = self.ratings(adapter)
        while seen < count and time.monotonic() < deadline:
            time.sleep(0.3)
            seen = self.ratings(adapter)
        return seen

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


class TopicReader:
    """Reads whole topics from the beginning (its own group) and keeps every message seen."""

    def __init__(self, bootstrap: str, names: list[str]) -> None:
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
                                   "auto.offset.reset": "earliest", "enable.auto.commit": False,
                                   "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS})
        self._consumer.subscribe(names)
        self.messages: dict[str, list[Message]] = {n: [] for n in names}

    def poll_until(self, done: Callable[[dict[str, list[Message]]], bool], timeout_s: float,
                   settle_s: float = 0.0) -> dict[str, list[Message]]:
        """Collect until `done` holds (then `settle_s` longer, to catch duplicates) or the deadline passes."""
        deadline = time.monotonic() + timeout_s
        settled: float | None = None
        while time.monotonic() < deadline:
            for msg in self._consumer.consume(500, 0.2):
                if msg.error() is None:
                    self.messages[msg.topic()].append(msg)
            if settled is None and done(self.messages):
                settled = time.monotonic() + settle_s
            if settled is not None and time.monotonic() >= settled:
                return self.messages
        return self.messages

    def close(self) -> None:
        self._consumer.close()
