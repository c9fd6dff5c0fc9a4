"""The docker-compose stack as a user runs it, with podman: images built, stack up, the loop closed from outside.

Steps (the README's "Containers" section): build the images (deploy/scripts/containers.sh build),
write an env file with fresh tokens (`make compose-env` does the same), and bring the stack up with
podman-compose. Only the broker and PostgreSQL are local stand-ins (deploy/compose/test-standins.yml);
the observability images (collector, Jaeger, Prometheus, Grafana) are not started, since no image can be
pulled here. Host ports are free ones (an overlay written here), the project name is unique, and the
stack with its volumes is removed afterwards. Nothing is mocked, and a machine where the container engine
cannot start fails the test with the reason.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from adaptloop_contracts import TopicNames
from adaptloop_devstack.broker import free_ports
from adaptloop_devstack.paths import repo_root, var_dir
from adaptloop_devstack.waiting import wait_for
from adaptloop_scenarios.corpus import generate_pairs
from confluent_kafka.admin import AdminClient
from openai import OpenAI

ROOT = repo_root()
SCRIPT = ROOT / "deploy" / "scripts" / "containers.sh"
PUBLISHED = {"inference-cpu": 8000, "ingest": 8001, "registry": 8002, "trainer": 8003, "drift": 8004, "dashboard": 8005}
STARTED = ("registry", "ingest", "drift", "trainer", "inference-cpu", "dashboard", "register")
"""What the test starts after the broker, the database and the topics (`containers.sh up` starts those first)."""
BUILD_S, UP_S, READY_S, JOB_S, SERVED_S = 1800, 300, 600, 600, 240

pytestmark = pytest.mark.timeout(BUILD_S + UP_S + READY_S + JOB_S + SERVED_S)


@dataclass
class ComposeStack:
    project: str
    urls: dict[str, str]
    kafka: str
    tokens: dict[str, str]
    timings: dict[str, float]

    def url(self, service: str) -> str:
        return self.urls[service]


def _script(*args: str, timeout_s: float, what: str) -> str:
    started = time.monotonic()
    proc = subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed (exit {proc.returncode}) after {time.monotonic() - started:.0f}s:\n"
                    f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}", pytrace=False)
    return proc.stdout


def _read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


@pytest.fixture(scope="module")
def compose_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    if not (var_dir() / "models" / "tiny-llama" / "manifest.json").exists():
        pytest.fail("the tiny base model is missing at var/models/tiny-llama: run `make model` (make test does)",
                    pytrace=False)
    home = tmp_path_factory.mktemp("compose")
    timings: dict[str, float] = {}
    started = time.monotonic()
    _script("build", "cpu", timeout_s=BUILD_S, what="building the images (deploy/scripts/containers.sh build)")
    _script("standins", timeout_s=BUILD_S, what="building the stand-ins (deploy/scripts/containers.sh standins)")
    timings["build_s"] = time.monotonic() - started

    env_file = home / "compose.env"
    _script("env", str(env_file), timeout_s=60, what="writing the env file (make compose-env)")
    ports = dict(zip([*PUBLISHED, "kafka"], free_ports(len(PUBLISHED) + 1), strict=True))
    with env_file.open("a") as fh:
        fh.write(f"ADAPTLOOP_KAFKA_HOST_PORT={ports['kafka']}\n")
    overlay = home / "ports.yml"
    overlay.write_text("services:\n" + "".join(
        f'  {svc}:\n    ports: !override ["127.0.0.1:{ports[svc]}:{port}"]\n' for svc, port in PUBLISHED.items()))
    project = f"adaptloop-compose-{uuid.uuid4().hex[:8]}"
    options = ["-p", project, "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml"),
               "-f", str(ROOT / "deploy" / "compose" / "test-standins.yml"), "-f", str(overlay)]
    try:
        started = time.monotonic()
        _script("up", *options, "--", *STARTED, timeout_s=UP_S, what="starting the stack (containers.sh up)")
        timings["up_s"] = time.monotonic() - started
        tokens = _read_env(env_file)
        yield ComposeStack(
            project=project,
            urls={svc.removesuffix("-cpu"): f"http://127.0.0.1:{ports[svc]}" for svc in PUBLISHED},
            kafka=f"127.0.0.1:{ports['kafka']}",
            tokens={role: tokens[f"ADAPTLOOP_{role.upper()}_TOKEN"] for role in ("admin", "trainer", "reader")},
            timings=timings,
        )
    finally:
        _save_logs(project)
        subprocess.run(["bash", str(SCRIPT), "compose", *options, "--profile", "cpu", "down", "-v", "-t", "5"],
                       cwd=ROOT, capture_output=True, timeout=300)
        (var_dir() / "containers" / "compose-test-timings.json").write_text(json.dumps(timings, indent=2))


def _save_logs(project: str) -> None:
    """Every container's log under var/containers/logs/, for a failed run."""
    out = var_dir() / "containers" / "logs"
    out.mkdir(parents=True, exist_ok=True)
    names = subprocess.run(
        ["bash", str(SCRIPT), "podman", "ps", "-a", "--filter", f"label=io.podman.compose.project={project}",
         "--format", "{{.Names}}"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout.split()
    for name in names:
        log = subprocess.run(["bash", str(SCRIPT), "podman", "logs", name], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
        (out / f"{name}.log").write_text(log.stdout + log.stderr)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


ADAPTER = "support"


def _chat(stack: ComposeStack, prompt: str) -> tuple[str, str]:
    """A chat completion through the `openai` client: (the answer, the adapter version that served it)."""
    client = OpenAI(base_url=stack.url("inference") + "/v1", api_key="unused", timeout=120, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model=ADAPTER, messages=[{"role": "user", "content": prompt}], max_tokens=16, temperature=0)
    answer = raw.parse().choices[0].message.content
    assert isinstance(answer, str)
    return answer, raw.headers.get("x-adaptloop-adapter-version", "")


def _get_json(url: str, **kwargs: object) -> object:
    try:
        resp = httpx.get(url, timeout=10, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError:
        return None
    return resp.json() if resp.status_code == 200 else None


def test_every_service_becomes_ready(compose_stack: ComposeStack) -> None:
    started = time.monotonic()
    for service in ("registry", "ingest", "drift", "trainer", "dashboard", "inference"):
        wait_for(f"{service} in the compose stack to answer /readyz with 200", lambda s=service: _ready(
            compose_stack.url(s)), READY_S)
    compose_stack.timings["ready_s"] = time.monotonic() - started


def test_topics_are_created_and_host_clients_reach_the_broker(compose_stack: ComposeStack) -> None:
    admin = AdminClient({"bootstrap.servers": compose_stack.kafka, "log_level": 0})
    listed = set(admin.list_topics(timeout=30).topics)
    missing = set(TopicNames("").all_with_partitions()) - listed
    assert not missing, f"topics missing on the compose broker: {sorted(missing)}"


def test_the_one_shot_register_adds_the_base_model_and_first_adapter(compose_stack: ComposeStack) -> None:
    registry = compose_stack.url("registry")
    base = wait_for("the base model registered by `register`",
                    lambda: _get_json(registry + "/v1/base-models/tiny-llama"), 120)
    assert base["name"] == "tiny-llama"
    adapter = wait_for("the first adapter created by `register`",
                       lambda: _get_json(registry + f"/v1/adapters/{ADAPTER}"), 60)
    assert adapter["base_model"] == "tiny-llama"


def _lists_adapter(stack: ComposeStack) -> bool:
    models = _get_json(stack.url("inference") + "/v1/models")
    return isinstance(models, dict) and any(m.get("id") == ADAPTER for m in models.get("data", []))


def _drift_logs(stack: ComposeStack) -> int:
    state = _get_json(stack.url("drift") + "/v1/state")
    entries = [e for e in (state or {}).get("adapters", []) if e.get("adapter") == ADAPTER]  # type: ignore[union-attr]
    return sum(int(e.get("logs", 0)) for e in entries)


def test_chat_completion_and_its_log_reaches_drift(compose_stack: ComposeStack) -> None:
    wait_for("inference to list the adapter registered by `register`", lambda: _lists_adapter(compose_stack), 120)
    answer, _ = _chat(compose_stack, "What is the capital of France?")
    assert answer is not None
    wait_for("drift to count the logged chat completion", lambda: _drift_logs(compose_stack) >= 1, 120)


def test_manual_retrain_registers_a_version_that_inference_serves(compose_stack: ComposeStack) -> None:
    trainer_auth = {"Authorization": f"Bearer {compose_stack.tokens['trainer']}"}
    pairs = generate_pairs("capital_markets", 48, seed=7)
    resp = httpx.post(compose_stack.url("ingest") + "/v1/examples", headers=trainer_auth, timeout=30,
                      json=[{"adapter": ADAPTER, "prompt": p.prompt, "answer": p.answer} for p in pairs])
    assert resp.status_code == 201, resp.text

    started = time.monotonic()
    resp = httpx.post(compose_stack.url("trainer") + "/v1/jobs", headers=trainer_auth, timeout=30, json={
        "adapter": ADAPTER, "reason": "manual", "training_config": {"steps": 30, "rank": 8, "learning_rate": 3e-3}})
    assert resp.status_code == 202, resp.text
    job_url = compose_stack.url("trainer") + f"/v1/jobs/{resp.json()['job_id']}"

    def finished() -> dict | None:
        job = _get_json(job_url)
        final = ("succeeded", "failed", "rejected", "cancelled")
        return job if isinstance(job, dict) and job["state"] in final else None

    job = wait_for("the manual training job to finish", finished, JOB_S)
    assert job["state"] == "succeeded", f"the training job ended {job['state']}: {job['error']}"
    version = int(job["candidate_version"])
    versions = _get_json(compose_stack.url("registry") + f"/v1/adapters/{ADAPTER}/versions")
    items = versions.get("versions", versions) if isinstance(versions, dict) else versions
    assert version in [int(v["version"]) for v in items or []], f"version {version} not in the registry: {versions}"

    wait_for(f"inference to serve the new version {version}",
             lambda: _chat(compose_stack, pairs[0].prompt)[1] == str(version), SERVED_S)
    compose_stack.timings["retrain_to_served_s"] = time.monotonic() - started
