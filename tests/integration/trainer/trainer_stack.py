"""The parts a trainer talks to, started as real processes: registry, ingest and the trainer itself."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from adaptloop_contracts import Event, TopicNames
from adaptloop_devstack.broker import free_port
from adaptloop_devstack.paths import repo_root, venv_python
from adaptloop_kafka import ensure_topics
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

TOKENS = {"admin": "admin-token-" + "a" * 8, "trainer": "trainer-token-" + "b" * 8, "reader": "reader-token-" + "c" * 8}


def tokens_spec() -> str:
    return ",".join(f"{role}:{role}:{hashlib.sha256(t.encode()).hexdigest()}" for role, t in TOKENS.items())


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


SERVICE_START_TIMEOUT_S = 180.0
STACK_START_TIMEOUT_S = 3 * SERVICE_START_TIMEOUT_S
"""Registry, ingest and trainer, one after the other: what a test pays when it starts a stack."""
JOB_TIMEOUT_S = 900.0
"""The longest a test waits for one training job on the tiny model to reach a final state."""


def wait_until(check: Callable[[], Any], *, timeout_s: float, what: str, every_s: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, KeyError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last: {last!r}")


@dataclass
class ServiceProcess:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = SERVICE_START_TIMEOUT_S) -> ServiceProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        cwd=repo_root(), start_new_session=True)

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}: {self.tail()}")
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200

        wait_until(ready, timeout_s=timeout_s, what=f"{self.name} ready")
        return self

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def _base_env(kafka: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADAPTLOOP_")}
    # The stories' texts are learnt verbatim: no redaction in ingest's store nor the trainer's snapshots.
    env.update({"OTEL_SDK_DISABLED": "true", "PYTHONUNBUFFERED": "1", "ADAPTLOOP_PRIVACY_MODE": "off"})
    for svc in ("REGISTRY", "INGEST", "TRAINER"):
        env[f"ADAPTLOOP_{svc}_KAFKA_BOOTSTRAP"] = kafka
        env[f"ADAPTLOOP_{svc}_TOPIC_PREFIX"] = prefix
        env[f"ADAPTLOOP_{svc}_TOKENS"] = tokens_spec()
    return env


@dataclass
class Stack:
    """Registry, ingest and trainer on one topic prefix and one database schema family."""

    kafka: str
    topics: TopicNames
    database_url: str
    schema_prefix: str
    work: Path
    models_dir: Path
    trainer_env: dict[str, str] = field(default_factory=dict)
    registry: ServiceProcess | None = None
    ingest: ServiceProcess | None = None
    trainer: ServiceProcess | None = None

    def start(self) -> Stack:
        env = _base_env(self.kafka, self.topics.prefix)
        stream_py, model_py = str(venv_python("stream")), str(venv_python("model"))
        self.registry = ServiceProcess("registry", [stream_py, "-m", "adaptloop_registry"], {
            **env, "ADAPTLOOP_REGISTRY_DATABASE_URL": self.database_url.replace("postgresql://", "postgresql+psycopg://"),
            "ADAPTLOOP_REGISTRY_DB_SCHEMA": f"{self.schema_prefix}_registry",
            "ADAPTLOOP_REGISTRY_ARTIFACT_DIR": str(self.work / "artifacts"),
            "ADAPTLOOP_REGISTRY_PORT": str(free_port()),
        }, 0, self.work / "registry.log")
        self.registry.port = int(self.registry.env["ADAPTLOOP_REGISTRY_PORT"])
        self.ingest = ServiceProcess("ingest", [stream_py, "-m", "adaptloop_ingest"], {
            **env, "ADAPTLOOP_INGEST_DATABASE_URL": self.database_url.replace("postgresql://", "postgresql+psycopg://"),
            "ADAPTLOOP_INGEST_DB_SCHEMA": f"{self.schema_prefix}_ingest",
            "ADAPTLOOP_INGEST_CONSUMER_GROUP": f"ingest-{self.schema_prefix}",
            "ADAPTLOOP_INGEST_PORT": str(free_port()),
        }, 0, self.work / "ingest.log")
        self.ingest.port = int(self.ingest.env["ADAPTLOOP_INGEST_PORT"])
        self.registry.start()
        self.ingest.start()
        port = free_port()
        self.trainer = ServiceProcess("trainer", [model_py, "-m", "adaptloop_trainer"], {
            **env, "ADAPTLOOP_TRAINER_DATABASE_URL": self.database_url,
            "ADAPTLOOP_TRAINER_DB_SCHEMA": f"{self.schema_prefix}_trainer",
            "ADAPTLOOP_TRAINER_REGISTRY_URL": self.registry.url, "ADAPTLOOP_TRAINER_REGISTRY_TOKEN": TOKENS["trainer"],
            "ADAPTLOOP_TRAINER_INGEST_URL": self.ingest.url, "ADAPTLOOP_TRAINER_INGEST_TOKEN": TOKENS["reader"],
            "ADAPTLOOP_TRAINER_MODELS_DIR": str(self.models_dir),
            "ADAPTLOOP_TRAINER_WORK_DIR": str(self.work / "trainer"),
            "ADAPTLOOP_TRAINER_CONSUMER_GROUP": f"trainer-{self.schema_prefix}",
            "ADAPTLOOP_TRAINER_CODE_REVISION": "test-revision",
            "ADAPTLOOP_TRAINER_PORT": str(port), **self.trainer_env,
        }, port, self.work / "trainer.log")
        self.trainer.start()
        return self

    def stop(self) -> None:
        for proc in (self.trainer, self.ingest, self.registry):
            if proc is not None:
                proc.stop()

    # -- registry and ingest set-up, as an operator would do it --
    def http(self, svc: ServiceProcess | None, role: str = "admin") -> httpx.Client:
        assert svc is not None
        return httpx.Client(base_url=svc.url, headers=auth(role), timeout=60)

    def register_base_model(self, name: str, successor_of: str | None = None) -> None:
        manifest = json.loads((self.models_dir / name / "manifest.json").read_text())
        with self.http(self.registry) as c:
            r = c.post("/v1/base-models", json={"name": name, "version": "1", "location": str(self.models_dir / name),
                                                "weights_sha256": manifest["weights_sha256"],
                                                "successor_of": successor_of})
            assert r.status_code == 201, r.text

    def create_adapter(self, name: str, base_model: str, training_config: dict[str, Any], mode: str = "auto") -> None:
        with self.http(self.registry) as c:
            r = c.post("/v1/adapters", json={"name": name, "base_model": base_model, "training_config": training_config,
                                             "promotion_policy": {"mode": mode}})
            assert r.status_code == 201, r.text

    def import_examples(self, adapter: str, pairs: list[tuple[str, str]], occurred_at: str | None = None) -> None:
        items = [{"adapter": adapter, "prompt": p, "answer": a, **({"occurred_at": occurred_at} if occurred_at else {})}
                 for p, a in pairs]
        with self.http(self.ingest, "trainer") as c:
            r = c.post("/v1/examples", json=items)
            assert r.status_code == 201, r.text

    def adapter(self, name: str) -> dict[str, Any]:
        with self.http(self.registry) as c:
            return c.get(f"/v1/adapters/{name}").raise_for_status().json()  # type: ignore[no-any-return]

    def versions(self, name: str) -> list[dict[str, Any]]:
        with self.http(self.registry) as c:
            return c.get(f"/v1/adapters/{name}/versions").raise_for_status().json()  # type: ignore[no-any-return]

    def artifact(self, sha: str) -> bytes:
        with self.http(self.registry) as c:
            return c.get(f"/v1/artifacts/{sha}").raise_for_status().content

    def job(self, job_id: str) -> dict[str, Any]:
        with self.http(self.trainer) as c:
            return c.get(f"/v1/jobs/{job_id}").raise_for_status().json()  # type: ignore[no-any-return]

    def jobs(self, adapter: str) -> list[dict[str, Any]]:
        with self.http(self.trainer) as c:
            return c.get("/v1/jobs", params={"adapter": adapter}).raise_for_status().json()["jobs"]  # type: ignore[no-any-return]

    def wait_final_job(self, adapter: str, *, timeout_s: float) -> dict[str, Any]:
        def final() -> dict[str, Any] | None:
            jobs = self.jobs(adapter)
            return jobs[0] if jobs and jobs[0]["state"] not in ("queued", "running") else None
        return wait_until(final, timeout_s=timeout_s, what=f"a final job of {adapter}", every_s=1.0)  # type: ignore[no-any-return]

    # -- Kafka --
    def publish(self, topic_base: str, event: Event, *, times: int = 1) -> None:
        producer = Producer({"bootstrap.servers": self.kafka})
        for _ in range(times):
            producer.produce(self.topics(topic_base), event.to_json_bytes(), key=event.model.encode())
        assert producer.flush(15) == 0

    def read_all(self, topic_base: str, *, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        """Every message now on the topic, read by partition assignment (no group join)."""
        topic = self.topics(topic_base)
        consumer = Consumer({"bootstrap.servers": self.kafka, "group.id": f"reader-{uuid.uuid4().hex}",
                             "enable.auto.commit": False})
        try:
            partitions = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions if ends[p] > 0])
            remaining = {p for p in partitions if ends[p] > 0}
            out: list[tuple[int, int, dict[str, Any]]] = []
            deadline = time.monotonic() + timeout_s
            while remaining and time.monotonic() < deadline:
                msg = consumer.poll(0.2)
                if msg is None or msg.error():
                    continue
                out.append((msg.partition(), msg.offset(), json.loads(msg.value())))
                if msg.offset() + 1 >= ends[msg.partition()]:
                    remaining.discard(msg.partition())
        finally:
            consumer.close()
        return [value for _, _, value in sorted(out, key=lambda item: (item[0], item[1]))]


TRAINING_CONFIG = {"steps": 24, "batch_size": 4, "seq_len": 256, "rank": 8, "alpha": 16, "learning_rate": 3e-3,
                   "seed": 11}


def make_stack(kafka_bootstrap: str, pg_dsn: str, tmp: Path, models: dict[str, Path],
               trainer_env: dict[str, str] | None = None) -> Stack:
    topics = TopicNames(f"t{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_bootstrap, topics.all_with_partitions())
    models_dir = tmp / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    for name, path in models.items():
        (models_dir / name).symlink_to(path, target_is_directory=True)
    return Stack(kafka_bootstrap, topics, pg_dsn, f"s_{uuid.uuid4().hex[:8]}", tmp, models_dir,
                 trainer_env=trainer_env or {})
