"""Users who ask and rate, and the registry and drift calls the rollout acceptance tests make.

Everything goes through the running stack's public interfaces: inference's OpenAI-compatible
API, ingest's feedback endpoint, the registry's and drift's HTTP APIs, the Kafka topics.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from adaptloop_devstack.stack import Stack
from adaptloop_kafka import GROUP_SESSION_TIMEOUT_MS
from adaptloop_scenarios.corpus import ScenarioPair
from adaptloop_scenarios.rating import score
from confluent_kafka import Consumer, TopicPartition

VERSION_HEADER = "x-adaptloop-adapter-version"
EVENT_HEADER = "x-adaptloop-event-id"


@dataclass(frozen=True)
class TrainedAdapters:
    """Artifacts (weights and config sha256) of a good and a bad adapter, and the questions users ask."""

    good: dict[str, Any]
    bad: dict[str, Any]
    questions: list[ScenarioPair]


@dataclass(frozen=True)
class Answer:
    """One request as its user saw it."""

    version: str
    event_id: str
    score: float


@dataclass
class Users:
    """Ask questions of one adapter through inference (several users in parallel) and rate every answer."""

    stack: Stack
    adapter: str
    pairs: list[ScenarioPair]
    seed: int = 0
    concurrency: int = 6
    max_tokens: int = 32
    answers: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._http = httpx.Client(timeout=120)
        self._token = self.stack.tokens.token("trainer")

    def close(self) -> None:
        self._http.close()

    def _ask(self, n: int, pair: ScenarioPair) -> tuple[Answer | None, dict[str, Any] | None]:
        try:
            resp = self._http.post(self.stack.config.url("inference") + "/v1/chat/completions", json={
                "model": self.adapter, "messages": [{"role": "user", "content": pair.prompt}],
                "max_tokens": self.max_tokens, "temperature": 0, "user": f"{self.adapter}-user-{self.seed}-{n}"})
        except httpx.HTTPError as exc:
            return None, {"error": f"{type(exc).__name__}: {exc}"}
        if resp.status_code != 200:
            return None, {"error": f"{resp.status_code} {resp.text[:200]}"}
        completion = resp.json()["choices"][0]["message"]["content"] or ""
        answer = Answer(resp.headers[VERSION_HEADER], resp.headers[EVENT_HEADER], score(completion, pair.answer))
        return answer, {"model": self.adapter, "inference_event_id": answer.event_id, "score": answer.score}

    def ask(self, n: int, *, rate: bool = True) -> list[Answer]:
        """`n` requests on prompts drawn from the pool; each answer rated (one batch to ingest at the end)."""
        start = len(self.answers)
        picks = [self._rng.choice(self.pairs) for _ in range(n)]
        with ThreadPoolExecutor(self.concurrency) as pool:
            results = list(pool.map(lambda item: self._ask(start + item[0], item[1]), enumerate(picks)))
        got = [a for a, _ in results if a is not None]
        self.failures += [str(r["error"]) for a, r in results if a is None and r is not None]
        self.answers += got
        if rate:
            self.rate([r for a, r in results if a is not None and r is not None])
        return got

    def rate(self, ratings: list[dict[str, Any]]) -> None:
        for i in range(0, len(ratings), 500):
            resp = self._http.post(self.stack.config.url("ingest") + "/v1/feedback", json=ratings[i:i + 500],
                                   headers={"Authorization": f"Bearer {self._token}"})
            assert resp.status_code == 202, resp.text

    def until(self, what: str, done: Callable[[], Any], *, batch: int, limit: int) -> Any:
        """Keep asking (and rating) in batches until `done()` or `limit` requests; returns `done()`'s value."""
        asked = 0
        while asked < limit:
            self.ask(batch)
            asked += batch
            result = done()
            if result:
                return result
        raise AssertionError(f"{what} did not happen within {limit} requests; failures: {self.failures[:3]}")


class Registry:
    """The registry calls of the tests, with the stack's admin and trainer tokens."""

    def __init__(self, stack: Stack) -> None:
        self.url = stack.config.url("registry")
        self.admin = {"Authorization": f"Bearer {stack.tokens.token('admin')}"}
        self.trainer = {"Authorization": f"Bearer {stack.tokens.token('trainer')}"}

    def create_adapter(self, name: str, *, mode: str, training_config: dict[str, Any] | None = None,
                       canary_weight: float = 0.5) -> None:
        resp = httpx.post(self.url + "/v1/adapters", headers=self.admin, json={
            "name": name, "base_model": "tiny-llama", "training_config": training_config or {},
            "promotion_policy": {"mode": mode, "canary_weight": canary_weight}})
        assert resp.status_code == 201, resp.text

    def set_mode(self, name: str, mode: str, canary_weight: float = 0.5) -> None:
        resp = httpx.put(self.url + f"/v1/adapters/{name}/promotion-policy", headers=self.admin,
                         json={"promotion_policy": {"mode": mode, "canary_weight": canary_weight}})
        assert resp.status_code == 200, resp.text

    def version(self, name: str, number: int) -> dict[str, Any]:
        resp = httpx.get(self.url + f"/v1/adapters/{name}/versions/{number}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def register(self, name: str, artifacts: dict[str, Any], *, note: str) -> dict[str, Any]:
        """Import a trained adapter's artifacts as a new version whose evaluation passed."""
        resp = httpx.post(self.url + f"/v1/adapters/{name}/versions", headers=self.trainer, json={
            "weights_sha256": artifacts["weights_sha256"], "config_sha256": artifacts["config_sha256"],
            "training_config": artifacts.get("training_config") or {}, "request_id": f"{name}-{note}",
            "evaluation": {"passed": True, "metrics": {}, "verdict": f"imported for the test: {note}"}})
        assert resp.status_code == 201, resp.text
        return resp.json()

    def aliases(self, name: str) -> dict[str, int]:
        return dict(httpx.get(self.url + f"/v1/adapters/{name}").json().get("aliases") or {})

    def history(self, name: str, alias: str) -> list[dict[str, Any]]:
        return list(httpx.get(self.url + f"/v1/adapters/{name}/aliases/{alias}/history").json())


def drift_rollout(stack: Stack, adapter: str) -> dict[str, Any] | None:
    """The drift service's rollout state of one adapter (None until it has one)."""
    try:
        resp = httpx.get(stack.config.url("drift") + f"/v1/adapters/{adapter}/state", timeout=5)
    except httpx.HTTPError:
        return None
    return resp.json().get("rollout") if resp.status_code == 200 else None


def drift_policy(stack: Stack, adapter: str) -> dict[str, Any] | None:
    resp = httpx.get(stack.config.url("drift") + f"/v1/adapters/{adapter}/state", timeout=5)
    return resp.json().get("policy") if resp.status_code == 200 else None


def pause_policy(stack: Stack, adapter: str) -> None:
    """Keep the retrain policy out of a test that only exercises rollout verdicts."""
    resp = httpx.post(stack.config.url("drift") + f"/v1/adapters/{adapter}/pause",
                      headers={"Authorization": f"Bearer {stack.tokens.token('trainer')}"})
    assert resp.status_code == 202, resp.text


def topic_events(stack: Stack, topics: list[str], adapter: str) -> list[dict[str, Any]]:
    """Every event about `adapter` on `topics`, each partition read from the beginning to its end.

    The end is where a poll finds nothing more: the local broker reports a partition's high
    watermark at the start of its last record batch, so the watermark alone would miss that batch.
    """
    consumer = Consumer({"bootstrap.servers": stack.config.bootstrap, "group.id": f"e2e-{uuid.uuid4()}",
                         "enable.auto.commit": False, "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS})
    try:
        out: list[dict[str, Any]] = []
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                if hi <= lo:
                    continue
                consumer.assign([TopicPartition(topic, p, lo)])
                position = lo
                while True:
                    msg = consumer.poll(5 if position < hi else 1)
                    if msg is None:
                        if position < hi:
                            raise AssertionError(f"{topic}[{p}] stopped at {position} of {hi}")
                        break
                    if msg.error() or msg.topic() != topic or msg.partition() != p:
                        continue  # end-of-partition notices, or a message fetched for the previous assignment
                    position = msg.offset() + 1
                    event = json.loads(msg.value())
                    if event.get("model", "").split(":")[0].split("@")[0] == adapter:
                        out.append(event)
        return out
    finally:
        consumer.close()
