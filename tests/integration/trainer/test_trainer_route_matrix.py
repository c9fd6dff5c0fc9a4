"""The trainer's HTTP API: every mutating route x no token / unknown token / too low a role / the right role,
bad input on every route, and job requests checked at the door (an unknown adapter, an ill-formed training
configuration: 422 with the reason, no job). Refused calls change nothing: the trainer's database rows and the
ends of the topics it writes are read before and after.

The app runs in-process on the run's PostgreSQL and broker, against a real registry process; its job runner and
consumer are not started (no lifespan), so an accepted job stays queued and can be cancelled deterministically.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from adaptloop_contracts import TopicNames
from adaptloop_devstack.broker import free_port
from adaptloop_devstack.paths import venv_python
from adaptloop_devstack.route_matrix import (
    Call,
    bearer,
    check_refused_then_allowed,
    database_state,
    mutating_operations,
    sweep_bad_input,
    topic_ends,
)
from adaptloop_kafka import ensure_topics
from adaptloop_trainer.bootstrap import build_runtime, create_app
from adaptloop_trainer.config import Settings
from fastapi.testclient import TestClient
from trainer_stack import TOKENS, ServiceProcess, _base_env, tokens_spec

MAX_BODY = 64 * 1024


@dataclass
class TrainerApi:
    client: TestClient
    registry_url: str
    dsn: str
    schema: str
    kafka: str
    written: list[str]

    def state(self) -> Any:
        return database_state(self.dsn, self.schema), topic_ends(self.kafka, self.written)

    def adapter(self) -> str:
        name = f"m{uuid.uuid4().hex[:10]}"
        answer = httpx.post(f"{self.registry_url}/v1/adapters", headers=bearer(TOKENS["admin"]), timeout=30,
                            json={"name": name, "base_model": "tiny-llama", "training_config": {"steps": 4}})
        assert answer.status_code == 201, answer.text
        return name

    def queued_job(self) -> str:
        answer = self.client.post("/v1/jobs", json={"adapter": self.adapter()}, headers=bearer(TOKENS["trainer"]))
        assert answer.status_code == 202, answer.text
        return str(answer.json()["job_id"])


@pytest.fixture(scope="module")
def trainer_api(kafka_bootstrap: str, pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainerApi]:
    work: Path = tmp_path_factory.mktemp("trainer-matrix")
    topics = TopicNames(f"m{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_bootstrap, topics.all_with_partitions())
    port = free_port()
    registry = ServiceProcess("registry", [str(venv_python("stream")), "-m", "adaptloop_registry"], {
        **_base_env(kafka_bootstrap, topics.prefix),
        "ADAPTLOOP_REGISTRY_DATABASE_URL": pg_dsn.replace("postgresql://", "postgresql+psycopg://"),
        "ADAPTLOOP_REGISTRY_DB_SCHEMA": f"m_{uuid.uuid4().hex[:8]}_registry",
        "ADAPTLOOP_REGISTRY_ARTIFACT_DIR": str(work / "artifacts"), "ADAPTLOOP_REGISTRY_PORT": str(port),
    }, port, work / "registry.log")
    registry.start()
    try:
        answer = httpx.post(f"{registry.url}/v1/base-models", headers=bearer(TOKENS["admin"]), timeout=30, json={
            "name": "tiny-llama", "version": "1", "location": "var/models/tiny-llama", "weights_sha256": "b" * 64})
        assert answer.status_code == 201, answer.text
        schema = f"m_{uuid.uuid4().hex[:8]}_trainer"
        settings = Settings(database_url=pg_dsn, db_schema=schema, kafka_bootstrap=kafka_bootstrap,
                            topic_prefix=topics.prefix, registry_url=registry.url, registry_token=TOKENS["trainer"],
                            ingest_url="http://127.0.0.1:1", ingest_token=TOKENS["reader"], tokens=tokens_spec(),
                            work_dir=work / "trainer", max_body_bytes=MAX_BODY)
        trainer = build_runtime(settings)
        trainer.database.upgrade()
        try:
            yield TrainerApi(TestClient(create_app(settings, runtime=trainer)), registry.url, pg_dsn, schema,
                             kafka_bootstrap, [topics("retrain.requested"), topics("training.events")])
        finally:
            trainer.stop()
            trainer.database.dispose()
    finally:
        registry.stop()


CANCEL = "/v1/jobs/{job_id}/cancel"
ROUTES: dict[tuple[str, str], Callable[[TrainerApi], tuple[str, Call, int | None]]] = {
    ("POST", "/v1/jobs"): lambda api: ("trainer", Call("POST", "/v1/jobs", json={"adapter": api.adapter()}), None),
    ("POST", CANCEL): lambda api: ("trainer", Call("POST", CANCEL, CANCEL.replace("{job_id}", api.queued_job())),
                                   None),
    # The right role asking for the lineage of examples no job learnt from: 200, nothing to forget.
    ("POST", "/v1/erasures/lineage"): lambda api: ("admin", Call("POST", "/v1/erasures/lineage", json={
        "erasure_id": str(uuid.uuid4()), "adapters": [api.adapter()], "example_ids": [str(uuid.uuid4())]}), 200),
}
"""(role needed, a valid call, what the right role gets when it changes nothing; None: 2xx and a change)."""


def test_every_mutating_route_has_a_matrix_entry(trainer_api: TrainerApi) -> None:
    assert mutating_operations(trainer_api.client.app.openapi()) == set(ROUTES)


@pytest.mark.parametrize("op", sorted(ROUTES), ids=" ".join)
def test_every_wrong_caller_is_refused_and_changes_nothing(trainer_api: TrainerApi, op: tuple[str, str]) -> None:
    role, call, allowed = ROUTES[op](trainer_api)
    check_refused_then_allowed(trainer_api.client, trainer_api.state, role, call, TOKENS, allowed=allowed)


@pytest.mark.parametrize(("body", "reason"), [
    ({"adapter": "no-such-adapter"}, "unknown adapter 'no-such-adapter'"),
    ({"training_config": {"learning_rate": "fast", "steps": -4}}, "invalid training configuration: "),
    ({"base_model": "no-such-base"}, "unknown base model 'no-such-base'"),
    ({"reason": "base_model_upgrade"}, "base_model_upgrade needs base_model"),
])
def test_a_job_request_that_cannot_run_is_answered_422_with_the_reason(
    trainer_api: TrainerApi, body: dict[str, Any], reason: str,
) -> None:
    request = {"adapter": trainer_api.adapter(), **body}
    before = trainer_api.state()
    answer = trainer_api.client.post("/v1/jobs", json=request, headers=bearer(TOKENS["trainer"]))
    assert answer.status_code == 422 and answer.json()["detail"].startswith(reason), answer.text
    if "learning_rate" in body.get("training_config", {}):
        assert "learning_rate" in answer.json()["detail"] and "steps" in answer.json()["detail"]
    assert trainer_api.state() == before


def test_bad_input_on_every_route_is_a_4xx_and_changes_nothing(trainer_api: TrainerApi) -> None:
    before = trainer_api.state()
    sent, failures = sweep_bad_input(trainer_api.client, trainer_api.client.app.openapi(),
                                     bearer(TOKENS["admin"]), max_body=MAX_BODY)
    assert sent > 0 and not failures, "\n".join(failures)
    assert trainer_api.state() == before
