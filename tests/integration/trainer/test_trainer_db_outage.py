"""PostgreSQL taken away (TCP proxy cuts) from registry, ingest and then the trainer while a job is
under way: the trainer answers 503 with Retry-After, the job waits instead of failing, and after the
restore it ends once, with its real verdict, without a restart of any service.

The job is one the trainer must reject for too little data, so that it ends without training (a
training run takes minutes here): what is proven is that the outage neither fails nor loses it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from adaptloop_contracts import RetrainRequested
from adaptloop_devstack.tcp_proxy import TcpProxy
from adaptloop_scenarios.corpus import generate_pairs
from trainer_stack import STACK_START_TIMEOUT_S, TRAINING_CONFIG, Stack, auth, make_stack, wait_until

MIN_EXAMPLES = 20
STEP_TIMEOUT_S = 120.0
"""Each wait of the test (the job recorded, meeting the outage, waiting, ending)."""
pytestmark = pytest.mark.timeout(STACK_START_TIMEOUT_S + 4 * STEP_TIMEOUT_S + 60)


@dataclass
class Outage:
    stack: Stack
    shared_db: TcpProxy
    """Between registry and ingest and PostgreSQL."""
    trainer_db: TcpProxy
    """Between the trainer and PostgreSQL."""


@pytest.fixture(scope="module")
def outage(kafka_bootstrap: str, pg_dsn: str, tiny_model_dir: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    shared_db, trainer_db = TcpProxy.for_dsn(pg_dsn).start(), TcpProxy.for_dsn(pg_dsn).start()
    running = make_stack(kafka_bootstrap, shared_db.dsn(pg_dsn), tmp_path_factory.mktemp("outage"),
                         {"tiny-llama": tiny_model_dir},
                         {"ADAPTLOOP_TRAINER_MIN_EXAMPLES": str(MIN_EXAMPLES),
                          "ADAPTLOOP_TRAINER_DATABASE_URL": trainer_db.dsn(pg_dsn)})
    try:
        running.start()
        running.register_base_model("tiny-llama")
        yield Outage(running, shared_db, trainer_db)
    finally:
        running.stop()
        shared_db.stop()
        trainer_db.stop()


def _metric(url: str, name: str, labels: str = "") -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and labels in line)


def test_a_job_accepted_before_an_outage_finishes_after_it(outage: Outage) -> None:
    stack = outage.stack
    assert stack.trainer is not None
    trainer_url = stack.trainer.url
    adapter = f"dbo-{uuid.uuid4().hex[:6]}"
    stack.create_adapter(adapter, "tiny-llama", TRAINING_CONFIG)
    stack.import_examples(adapter, [(p.prompt, p.answer) for p in generate_pairs("security_ops", 8, seed=4)])
    trainer_pid = stack.trainer.process.pid if stack.trainer.process else None

    # The outage begins at the registry's (and ingest's) database: the trainer still records the
    # request's job, whose first call to the registry meets a 503 and waits.
    outage.shared_db.cut()
    try:
        stack.publish("retrain.requested", RetrainRequested(model=adapter, reason="drift", requested_by="drift-policy"))
        accepted = wait_until(lambda: stack.jobs(adapter), timeout_s=STEP_TIMEOUT_S, what="the job recorded")[0]
        wait_until(lambda: _metric(trainer_url, "adaptloop_trainer_jobs_interrupted_total") >= 1,
                   timeout_s=STEP_TIMEOUT_S, what="the job meeting the outage")

        # Then it reaches the trainer's own database.
        outage.trainer_db.cut()
        try:
            waits = _metric(trainer_url, "adaptloop_database_unavailable_total", 'where="trainer:jobs"')
            with httpx.Client(base_url=trainer_url, headers=auth("trainer"), timeout=30) as trainer:
                for method, path, body in (
                    ("POST", "/v1/jobs", {"adapter": adapter}),
                    ("GET", "/v1/jobs", None),
                    ("GET", f"/v1/jobs/{accepted['job_id']}", None),
                ):
                    response = trainer.request(method, path, json=body)
                    assert response.status_code == 503, (method, path, response.status_code, response.text)
                    assert int(response.headers["Retry-After"]) >= 1  # the POST asks the registry first
                ready = trainer.get("/readyz")
                assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
                assert trainer.get("/healthz").status_code == 200
            wait_until(lambda: _metric(trainer_url, "adaptloop_database_unavailable_total", 'where="trainer:jobs"')
                       > waits, timeout_s=STEP_TIMEOUT_S, what="the job waiting for the trainer's database")
        finally:
            outage.trainer_db.restore()
    finally:
        outage.shared_db.restore()

    job = stack.wait_final_job(adapter, timeout_s=STEP_TIMEOUT_S)
    assert job["job_id"] == accepted["job_id"] and job["state"] == "rejected", job
    assert "too little data: 8 usable examples" in job["error"], job["error"]
    assert job["attempts"] == 1, "the outage was counted as an attempt"
    assert [j["job_id"] for j in stack.jobs(adapter)] == [accepted["job_id"]], "a 503'd request left a job"
    events = [e["event_type"] for e in stack.read_all("training.events") if e["job_id"] == job["job_id"]]
    assert events.count("training.rejected") == 1 and "training.failed" not in events, events
    assert stack.trainer.process is not None and stack.trainer.process.pid == trainer_pid, "the trainer restarted"
