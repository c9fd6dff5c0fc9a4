"""Registry benchmark: the service against a peer, the framework and the database, side by side in one run.

Seeds 1,000 adapters x 20 versions (production and canary aliases) into the registry's schema and the
same into MLflow's model registry (its own database on the same PostgreSQL), then measures, in
interleaved rounds (the order rotates every round) with the same 16 client threads:
- alias reads: the service, MLflow's server (`GET /api/2.0/mlflow/registered-models/alias`, installed
  in var/venv/mlflow from bench/registry/mlflow.lock by bench/registry/mlflow_env.sh), a bare FastAPI
  endpoint returning a constant served the same way as the service (bench/registry/bare_app.py), and
  the same SQL straight through psycopg (the limit no HTTP service reaches);
- version registrations: the service, MLflow (`POST /api/2.0/mlflow/model-versions/create`) and the
  service's statements straight through psycopg;
- serving-plan reads (one client, sequential) against the same SQL through psycopg.
Every server runs with the same worker count (the stack's, 1, unless REGISTRY_BENCH_WORKERS says
otherwise); the service runs as deployed (relay on, real broker). Each round records the load average
and the machine's CPU use. Writes bench/results/registry.json (REGISTRY_BENCH_OUT to write elsewhere).

    var/venv/stream/bin/python bench/registry/bench_registry.py
    var/venv/stream/bin/python bench/registry/bench_registry.py --registrations-only   # the registration rounds

`--registrations-only` starts the service and MLflow, seeds both and runs only the registration rounds
(service, MLflow, raw SQL); it prints the registration fields and writes them to REGISTRY_BENCH_OUT when set,
never to bench/results/registry.json.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from adaptloop_devstack.bench_stamp import run_stamp
from adaptloop_devstack.broker import free_port, start_broker
from adaptloop_devstack.postgres import create_test_database, drop_database, sqlalchemy_url
from adaptloop_registry.serving_plan import POSTGRES_SERVING_PLAN_SQL

ADAPTERS = 1_000
VERSIONS = 20
CLIENTS = 16
WORKERS = int(os.environ.get("REGISTRY_BENCH_WORKERS", "1"))  # as the stack runs the registry
ROUNDS = int(os.environ.get("REGISTRY_BENCH_ROUNDS", "3"))
PLAN_READS = 40
READ_SECONDS = float(os.environ.get("REGISTRY_BENCH_SECONDS", "5"))
WRITE_SECONDS = READ_SECONDS
SCHEMA = "registry"
TOKEN = "bench-trainer-token"
REPO = Path(__file__).resolve().parents[2]
MLFLOW_VENV = REPO / "var" / "venv" / "mlflow"

ALIAS_SQL = ("SELECT al.version, al.weight, al.updated_by, al.updated_at FROM aliases al "
             "JOIN adapters a ON a.id = al.adapter_id WHERE a.name = %s AND al.alias = %s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(latencies_s: list[float], elapsed_s: float) -> dict[str, float]:
    ms = [x * 1000 for x in latencies_s]
    return {"ops": len(ms), "ops_per_s": len(ms) / elapsed_s, "p50_ms": percentile(ms, 0.5),
            "p99_ms": percentile(ms, 0.99), "mean_ms": statistics.fmean(ms)}


def run_clients(clients: int, seconds: float, make_worker: Callable[[int], Callable[[], None]]) -> dict[str, float]:
    """Run `clients` threads, each calling its worker in a loop for `seconds`; latency of every call."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    start_barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def loop(i: int) -> None:
        try:
            work = make_worker(i)
            start_barrier.wait()
            while time.perf_counter() < stop_at[0]:
                t0 = time.perf_counter()
                work()
                latencies[i].append(time.perf_counter() - t0)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds + 1e9  # released below
    start_barrier.wait()
    begin = time.perf_counter()
    stop_at[0] = begin + seconds
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client errors, first: {errors[0]!r}")
    return summary([x for per in latencies for x in per], time.perf_counter() - begin)


class Http:
    """A keep-alive HTTP/1.1 connection with the least client-side overhead the stdlib offers."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: bytes | None = None, expect: tuple[int, ...] = (200,)) -> bytes:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.conn.close()  # the server closed an idle keep-alive connection: reconnect once
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        if response.status not in expect:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return data


def seed(dsn: str) -> tuple[str, str]:
    """1,000 adapters x 20 versions with production and canary aliases, straight into the migrated schema."""
    weights, config = hashlib.sha256(b"weights").hexdigest(), hashlib.sha256(b"config").hexdigest()
    now = datetime.now(UTC)
    with psycopg.connect(dsn, options=f"-csearch_path={SCHEMA}") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO base_models (name, version, location, weights_sha256, created_by, created_at) "
                    "VALUES ('tiny-llama', '1', 'var/models/tiny-llama', %s, 'bench', %s)", ("b" * 64, now))
        cur.executemany("INSERT INTO artifacts (sha256, size, kind, filename, uploaded_by, uploaded_at) "
                        "VALUES (%s, 100, %s, %s, 'bench', %s)",
                        [(weights, "weights", "adapter_model.safetensors", now),
                         (config, "config", "adapter_config.json", now)])
        with cur.copy("COPY adapters (id, name, base_model, training_config, promotion_mode, canary_weight, "
                      "canary_min_requests, next_version, created_by, created_at) FROM STDIN") as copy:
            for i in range(1, ADAPTERS + 1):
                copy.write_row((i, f"adapter-{i:04d}", "tiny-llama", "{}", "manual", 0.1, 100, VERSIONS + 1,
                                "bench", now))
        with cur.copy("COPY adapter_versions (adapter_id, version, weights_sha256, weights_size, config_sha256, "
                      "base_model, training_config, metrics, status, registered_by, registered_at) FROM STDIN") as copy:
            for i in range(1, ADAPTERS + 1):
                for v in range(1, VERSIONS + 1):
                    copy.write_row((i, v, weights, 100, config, "tiny-llama", '{"lr": 0.0001}', '{"loss": 0.5}',
                                    "production" if v == VERSIONS else "candidate", "bench", now))
        with cur.copy("COPY aliases (adapter_id, alias, version, weight, updated_by, updated_at) FROM STDIN") as copy:
            for i in range(1, ADAPTERS + 1):
                copy.write_row((i, "production", VERSIONS, None, "bench", now))
                copy.write_row((i, "canary", VERSIONS - 1, 0.1, "bench", now))
        cur.execute("SELECT setval(pg_get_serial_sequence('adapters', 'id'), %s)", (ADAPTERS,))
        cur.execute("ANALYZE")
    return weights, config


def wait_ready(proc: subprocess.Popen[bytes], port: int, path: str, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{log.name}: server exited: {log.read_text()[-2000:]}")
        try:
            Http(port).call("GET", path)
            return
        except (OSError, RuntimeError):
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{log.name}: server not ready within {timeout_s}s")


def start_service(dsn: str, bootstrap: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = dict(os.environ)
    env.update({
        "ADAPTLOOP_REGISTRY_DATABASE_URL": sqlalchemy_url(dsn),
        "ADAPTLOOP_REGISTRY_DB_SCHEMA": SCHEMA,
        "ADAPTLOOP_REGISTRY_PORT": str(port),
        "ADAPTLOOP_REGISTRY_HOST": "127.0.0.1",
        "ADAPTLOOP_REGISTRY_ARTIFACT_DIR": str(workdir / "artifacts"),
        "ADAPTLOOP_REGISTRY_KAFKA_BOOTSTRAP": bootstrap,
        "ADAPTLOOP_REGISTRY_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:6]}.",
        "ADAPTLOOP_REGISTRY_DB_POOL_SIZE": str(max(1, CLIENTS // WORKERS)),
        "ADAPTLOOP_REGISTRY_WORKERS": str(WORKERS),
        "ADAPTLOOP_REGISTRY_LOG_LEVEL": "WARNING",
        "ADAPTLOOP_REGISTRY_TOKENS": f"bench:trainer:{hashlib.sha256(TOKEN.encode()).hexdigest()}",
    })
    log = open(workdir / "registry.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([sys.executable, "-m", "adaptloop_registry"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    wait_ready(proc, port, "/readyz", workdir / "registry.log")
    return proc, port


def start_bare(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """The bare FastAPI endpoint, served by the registry's own uvicorn options and worker count."""
    port = free_port()
    env = dict(os.environ)
    env.update({"ADAPTLOOP_REGISTRY_PORT": str(port), "ADAPTLOOP_REGISTRY_HOST": "127.0.0.1",
                "ADAPTLOOP_REGISTRY_WORKERS": str(WORKERS), "ADAPTLOOP_REGISTRY_LOG_LEVEL": "WARNING"})
    log = open(workdir / "bare.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("bare_app.py"))], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    wait_ready(proc, port, "/readyz", workdir / "bare.log")
    return proc, port


def start_mlflow(dsn: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """MLflow's tracking/registry server on its own database (it migrates it at start), access log off
    like the service's, the same worker count."""
    subprocess.run(["bash", str(Path(__file__).with_name("mlflow_env.sh"))], check=True)
    port = free_port()
    log = open(workdir / "mlflow.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [str(MLFLOW_VENV / "bin" / "mlflow"), "server", "--backend-store-uri", sqlalchemy_url(dsn),
         "--default-artifact-root", str(workdir / "mlartifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(WORKERS), "--uvicorn-opts", "--no-access-log"],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_ready(proc, port, "/health", workdir / "mlflow.log", timeout_s=180)
    return proc, port


def seed_mlflow(dsn: str) -> None:
    """The same catalogue in MLflow's tables: 1,000 registered models x 20 versions, aliases production
    (version 20) and canary (version 19)."""
    now_ms = int(time.time() * 1000)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy("COPY registered_models (name, creation_time, last_updated_time, description) FROM STDIN") as cp:
            for i in range(1, ADAPTERS + 1):
                cp.write_row((f"adapter-{i:04d}", now_ms, now_ms, ""))
        with cur.copy("COPY model_versions (name, version, creation_time, last_updated_time, description, "
                      "current_stage, source, run_id, status, run_link, storage_location) FROM STDIN") as cp:
            for i in range(1, ADAPTERS + 1):
                for v in range(1, VERSIONS + 1):
                    source = f"s3://bench/adapter-{i:04d}/{v}"
                    cp.write_row((f"adapter-{i:04d}", v, now_ms, now_ms, "", "None", source, "", "READY", "", source))
        with cur.copy("COPY registered_model_aliases (alias, version, name) FROM STDIN") as cp:
            for i in range(1, ADAPTERS + 1):
                cp.write_row(("production", VERSIONS, f"adapter-{i:04d}"))
                cp.write_row(("canary", VERSIONS - 1, f"adapter-{i:04d}"))
        cur.execute("ANALYZE")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a server started in a session of its own, with every process it started (workers, children)."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def sequential(n: int, work: Callable[[], None]) -> dict[str, float]:
    latencies = []
    begin = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        work()
        latencies.append(time.perf_counter() - t0)
    return summary(latencies, time.perf_counter() - begin)


class Machine:
    """Load average and the whole machine's CPU use (from /proc/stat) over each measured round."""

    @staticmethod
    def _cpu() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    def __init__(self) -> None:
        self.load_before = os.getloadavg()
        self.cpu_before = self._cpu()

    def record(self) -> dict[str, Any]:
        busy0, total0 = self.cpu_before
        busy1, total1 = self._cpu()
        return {"loadavg_1m_before": round(self.load_before[0], 2), "loadavg_1m_after": round(os.getloadavg()[0], 2),
                "machine_cpu_busy": round((busy1 - busy0) / max(1, total1 - total0), 3)}


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and every live descendant (uvicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def wait_until_idle(pids: dict[str, int], *, busy_below: float = 0.05, timeout_s: float = 180.0) -> dict[str, float]:
    """Wait until no server's process tree uses more than `busy_below` of a core over a second (MLflow
    starts job-runner processes that import for a minute after it answers), so no baseline is measured
    while it is still starting; returns the seconds each took."""
    began = time.monotonic()
    waited: dict[str, float] = {}
    for name, pid in pids.items():
        while time.monotonic() - began < timeout_s:
            cpu0 = tree_cpu_s(pid)
            time.sleep(1.0)
            if tree_cpu_s(pid) - cpu0 < busy_below:
                break
        waited[name] = round(time.monotonic() - began, 1)
    return waited


def measured(work: Callable[[], dict[str, Any]], server_pid: int | None = None) -> dict[str, Any]:
    machine = Machine()
    cpu0 = tree_cpu_s(server_pid) if server_pid else 0.0
    result = work()
    if server_pid:
        result["server_cpu_ms_per_op"] = round((tree_cpu_s(server_pid) - cpu0) * 1000 / max(1, result["ops"]), 3)
    return {**result, **machine.record()}


def http_worker(port: int, seed_offset: int, path_of: Callable[[str], str]) -> Callable[[int], Callable[[], None]]:
    def make(i: int) -> Callable[[], None]:
        client = Http(port)
        rng = random.Random(seed_offset + i)
        return lambda: client.call("GET", path_of(f"adapter-{rng.randint(1, ADAPTERS):04d}"))
    return make


def bench_plan(dsn: str, port: int) -> dict[str, Any]:
    raw = psycopg.connect(dsn, options=f"-csearch_path={SCHEMA}", autocommit=True)
    http_client = Http(port)
    plan = json.loads(http_client.call("GET", "/v1/serving-plan"))
    assert len(plan["adapters"]) == ADAPTERS and len(plan["adapters"][0]["versions"]) == VERSIONS

    def raw_plan() -> None:
        raw.execute(POSTGRES_SERVING_PLAN_SQL).fetchone()

    def service_plan() -> None:
        http_client.call("GET", "/v1/serving-plan")

    for work in (raw_plan, service_plan):  # warm caches and pools
        for _ in range(3):
            work()
    plan_raw = measured(lambda: sequential(PLAN_READS, raw_plan))
    plan_service = measured(lambda: sequential(PLAN_READS, service_plan))
    raw.close()
    return {"service": plan_service, "raw": plan_raw, "bytes": len(json.dumps(plan))}


def interleaved(targets: dict[str, Callable[[int], Callable[[], None]]], seconds: float,
                pids: dict[str, int]) -> dict[str, list[dict]]:
    """ROUNDS rounds; each runs every target once, the order rotated by one every round. The CPU a
    server spends per operation is recorded too: unlike ops/s it hardly depends on what else runs."""
    names = list(targets)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for r in range(ROUNDS):
        for name in names[r % len(names):] + names[:r % len(names)]:
            result = measured(lambda n=name: run_clients(CLIENTS, seconds, targets[n]), pids.get(name))
            rounds[name].append({"round": r, **result})
            print(f"  round {r} {name}: {result['ops_per_s']:.0f}/s p99 {result['p99_ms']:.1f} ms, server CPU "
                  f"{result.get('server_cpu_ms_per_op', '-')} ms/op (load {result['loadavg_1m_before']})", flush=True)
    return rounds


def bench_reads(dsn: str, ports: dict[str, int], pids: dict[str, int]) -> dict[str, list[dict]]:
    def raw_alias_worker(i: int) -> Callable[[], None]:
        conn = psycopg.connect(dsn, options=f"-csearch_path={SCHEMA}", autocommit=True)
        rng = random.Random(i)
        return lambda: conn.execute(ALIAS_SQL, (f"adapter-{rng.randint(1, ADAPTERS):04d}", "production")).fetchone()

    alias_path = "/v1/adapters/{}/aliases/production".format
    targets = {
        "service": http_worker(ports["service"], 0, alias_path),
        "bare_fastapi": http_worker(ports["bare"], 0, alias_path),
        "mlflow": http_worker(ports["mlflow"], 0,
                              lambda name: f"/api/2.0/mlflow/registered-models/alias?name={name}&alias=production"),
        "raw_sql": raw_alias_worker,
    }
    for make in targets.values():  # warm every server, pool and cache the same way
        run_clients(CLIENTS, 1.0, make)
    return interleaved(targets, READ_SECONDS, pids)


def raw_registration(conn: psycopg.Connection[Any], adapter: str, weights: str, config: str, request_id: str) -> None:
    """The statements the service runs to register a version (lock, checks, number, rows, outbox, audit)."""
    now = datetime.now(UTC)
    with conn.transaction():
        adapter_id, base_model, number = conn.execute(
            "SELECT id, base_model, next_version FROM adapters WHERE name = %s FOR UPDATE", (adapter,)).fetchone()
        conn.execute("SELECT 1 FROM adapter_versions WHERE adapter_id = %s AND request_id = %s",
                     (adapter_id, request_id)).fetchone()
        conn.execute("SELECT id FROM base_models WHERE name = %s", (base_model,)).fetchone()
        conn.execute("SELECT kind, size FROM artifacts WHERE sha256 = %s", (weights,)).fetchone()
        conn.execute("SELECT kind, size FROM artifacts WHERE sha256 = %s", (config,)).fetchone()
        conn.execute("UPDATE adapters SET next_version = %s WHERE id = %s", (number + 1, adapter_id))
        conn.execute(
            "INSERT INTO adapter_versions (adapter_id, version, request_id, weights_sha256, weights_size,"
            " config_sha256, base_model, training_config, metrics, status, registered_by, registered_at)"
            " VALUES (%s, %s, %s, %s, 100, %s, %s, '{}', '{}', 'candidate', 'bench', %s)"
            " RETURNING id",
            (adapter_id, number, request_id, weights, config, base_model, now)).fetchone()
        event_id = str(uuid.uuid4())
        conn.execute("INSERT INTO outbox (event_id, topic, event_key, payload, created_at) VALUES (%s, %s, %s, %s, %s)",
                     (event_id, "registry.events", adapter, json.dumps({"event_id": event_id, "model": adapter}), now))
        conn.execute("INSERT INTO audit_log (actor, action, target, details, at) VALUES ('bench', %s, %s, '{}', %s)",
                     ("version.register", f"{adapter}@{number}", now))
        conn.execute("SELECT * FROM adapter_versions WHERE adapter_id = %s AND version = %s",
                     (adapter_id, number)).fetchone()


def bench_writes(dsn: str, ports: dict[str, int], pids: dict[str, int], weights: str,
                 config: str) -> dict[str, list[dict]]:
    def raw_worker(i: int) -> Callable[[], None]:
        conn = psycopg.connect(dsn, options=f"-csearch_path={SCHEMA}", autocommit=True)
        rng = random.Random(1000 + i)
        return lambda: raw_registration(conn, f"adapter-{rng.randint(1, ADAPTERS):04d}", weights, config,
                                        uuid.uuid4().hex)

    def service_worker(i: int) -> Callable[[], None]:
        client = Http(ports["service"])
        rng = random.Random(2000 + i)

        def register() -> None:
            body = json.dumps({"weights_sha256": weights, "config_sha256": config, "request_id": uuid.uuid4().hex,
                               "training_config": {}, "metrics": {}}).encode()
            client.call("POST", f"/v1/adapters/adapter-{rng.randint(1, ADAPTERS):04d}/versions", body, expect=(201,))
        return register

    def mlflow_worker(i: int) -> Callable[[], None]:
        client = Http(ports["mlflow"])
        rng = random.Random(2000 + i)

        def register() -> None:
            name = f"adapter-{rng.randint(1, ADAPTERS):04d}"
            body = json.dumps({"name": name, "source": f"s3://bench/{name}/{uuid.uuid4().hex}"}).encode()
            client.call("POST", "/api/2.0/mlflow/model-versions/create", body)
        return register

    targets = {"service": service_worker, "mlflow": mlflow_worker, "raw_sql": raw_worker}
    for make in targets.values():
        run_clients(CLIENTS, 1.0, make)
    return interleaved(targets, WRITE_SECONDS, pids)


def median_of(rounds: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def ratio_rounds(rounds: dict[str, list[dict]], ours: str, other: str) -> list[float]:
    return [a["ops_per_s"] / b["ops_per_s"] for a, b in zip(rounds[ours], rounds[other], strict=True)]


def targets_summary(rounds: dict[str, list[dict]]) -> dict[str, dict[str, Any]]:
    return {name: {"ops_per_s": round(median_of(rs, "ops_per_s"), 1), "p50_ms": round(median_of(rs, "p50_ms"), 2),
                   "p99_ms": round(median_of(rs, "p99_ms"), 2),
                   **({"server_cpu_ms_per_op": round(median_of(rs, "server_cpu_ms_per_op"), 3)}
                      if "server_cpu_ms_per_op" in rs[0] else {}),
                   "rounds": rs}
            for name, rs in rounds.items()}


def registration_fields(writes: dict[str, list[dict]]) -> dict[str, Any]:
    """The registration figures of a run: ratios to MLflow and raw SQL, rates and p99s."""
    vs_mlflow, vs_raw = ratio_rounds(writes, "service", "mlflow"), ratio_rounds(writes, "service", "raw_sql")
    registrations = targets_summary(writes)
    return {"registration_ratio_vs_mlflow": round(statistics.median(vs_mlflow), 3),
            "registration_p99_ms": registrations["service"]["p99_ms"],
            "registration_p99_ms_mlflow": registrations["mlflow"]["p99_ms"],
            "write_ratio_vs_raw": round(statistics.median(vs_raw), 3),
            "registrations_per_s": registrations["service"]["ops_per_s"],
            "registrations": {**registrations, "ratios_vs_mlflow": vs_mlflow, "ratios_vs_raw": vs_raw}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--registrations-only", action="store_true",
                        help="run only the registration rounds (service, MLflow, raw SQL); written only to "
                             "REGISTRY_BENCH_OUT when set")
    registrations_only = parser.parse_args().registrations_only
    started = time.monotonic()
    load_at_start = os.getloadavg()
    dsn = create_test_database("adaptloop_bench")
    dsn_mlflow = create_test_database("adaptloop_bench_mlflow")
    with psycopg.connect(dsn) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    stamp = run_stamp("bench/registry", "services/registry", postgres=pg_version)  # the code as it starts
    workdir = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    broker = start_broker(free_port(), log_path=workdir / "broker.log")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    try:
        procs["service"], ports["service"] = start_service(dsn, broker.bootstrap, workdir)  # migrates at start
        procs["mlflow"], ports["mlflow"] = start_mlflow(dsn_mlflow, workdir)  # migrates at start
        if not registrations_only:
            procs["bare"], ports["bare"] = start_bare(workdir)
        weights, config = seed(dsn)
        seed_mlflow(dsn_mlflow)
        pids = {name: proc.pid for name, proc in procs.items()}
        if "bare" in pids:
            pids["bare_fastapi"] = pids.pop("bare")
        if not registrations_only:
            plan = bench_plan(dsn, ports["service"])
        settled = wait_until_idle(pids)
        if not registrations_only:
            print("== alias reads", flush=True)
            reads = bench_reads(dsn, ports, pids)
        print("== registrations", flush=True)
        writes = bench_writes(dsn, ports, pids, weights, config)
    finally:
        for proc in procs.values():
            stop(proc)
        broker.stop()
        drop_database(dsn)
        drop_database(dsn_mlflow)
    mlflow_version = (MLFLOW_VENV / ".lock-fingerprint").exists() and next(
        (line.split("==")[1] for line in Path(__file__).with_name("mlflow.lock").read_text().splitlines()
         if line.startswith("mlflow==")), "")
    machine = {**stamp.pop("machine"), "platform": platform.platform(), "cpu_count": os.cpu_count(),
               "loadavg_at_start": [round(x, 2) for x in load_at_start],
               "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
               "load_note": "per-round load average and machine CPU use are in each round's record"}
    machine["cpu"] = machine["cpu_model"]
    parameters = {"adapters": ADAPTERS, "versions_per_adapter": VERSIONS, "clients": CLIENTS, "rounds": ROUNDS,
                  "seconds_per_round": READ_SECONDS, "plan_reads": PLAN_READS, "workers": WORKERS,
                  "service": "python -m adaptloop_registry (uvicorn, relay on, real broker)",
                  "mlflow": f"mlflow server {mlflow_version} (uvicorn, --no-access-log), own database",
                  "bare_fastapi": "bench/registry/bare_app.py, the registry's uvicorn options",
                  "servers_idle_after_s": settled}
    written = registration_fields(writes)
    if registrations_only:
        result = {**written, "parameters": parameters, "machine": machine, **stamp,
                  "duration_s": round(time.monotonic() - started, 1)}
        out_name = os.environ.get("REGISTRY_BENCH_OUT")
        if out_name:
            Path(out_name).write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, indent=2))
        return
    read_vs_mlflow = ratio_rounds(reads, "service", "mlflow")
    read_vs_bare = ratio_rounds(reads, "service", "bare_fastapi")
    read_vs_raw = ratio_rounds(reads, "service", "raw_sql")
    alias = targets_summary(reads)
    plan_ratio = plan["service"]["ops_per_s"] / plan["raw"]["ops_per_s"]
    result = {
        "alias_read_ratio_vs_mlflow": round(statistics.median(read_vs_mlflow), 3),
        "registration_ratio_vs_mlflow": written["registration_ratio_vs_mlflow"],
        "alias_read_ratio_vs_bare_fastapi": round(statistics.median(read_vs_bare), 3),
        "alias_read_p99_ms": alias["service"]["p99_ms"],
        "alias_read_p99_ms_mlflow": alias["mlflow"]["p99_ms"],
        "alias_read_p99_ms_bare_fastapi": alias["bare_fastapi"]["p99_ms"],
        "alias_read_p99_over_bare_fastapi": round(alias["service"]["p99_ms"] / alias["bare_fastapi"]["p99_ms"], 3),
        "registration_p99_ms": written["registration_p99_ms"],
        "registration_p99_ms_mlflow": written["registration_p99_ms_mlflow"],
        "read_ratio_vs_raw": round(min(statistics.median(read_vs_raw), plan_ratio), 3),
        "write_ratio_vs_raw": written["write_ratio_vs_raw"],
        "read_p50_ms": alias["service"]["p50_ms"],
        "read_p99_ms": alias["service"]["p99_ms"],
        "read_ratio_definition": "read_ratio_vs_raw is the lower of the alias-read and serving-plan ratios to the "
                                 "same SQL through psycopg (distance to the limit); read_p50/p99 are the service's "
                                 "alias reads under 16 clients",
        "alias_reads_per_s": alias["service"]["ops_per_s"],
        "registrations_per_s": written["registrations_per_s"],
        "targets": {"alias_read_ratio_vs_mlflow": ">= 5 with a lower p99",
                    "registration_ratio_vs_mlflow": ">= 3 with a lower p99",
                    "alias_read_ratio_vs_bare_fastapi": ">= 0.6 with p99 at most 2x the bare endpoint's"},
        "distance_to_the_limit": {
            "alias_read_ratio_vs_raw": round(statistics.median(read_vs_raw), 3),
            "write_ratio_vs_raw": written["write_ratio_vs_raw"],
            "serving_plan_ratio_vs_raw": round(plan_ratio, 3),
            "meaning": "service over the same SQL straight through psycopg from the client process: a limit no "
                       "HTTP service reaches, kept to show how far the service is from it",
        },
        "definitions": "every ratio is the median over the rounds of (service ops/s / other ops/s) measured in the "
                       "same round; p50/p99 are medians over the rounds; 16 client threads on keep-alive "
                       "HTTP/1.1 connections (http.client) or psycopg connections",
        "alias_reads": {**alias, "ratios_vs_mlflow": read_vs_mlflow, "ratios_vs_bare_fastapi": read_vs_bare,
                        "ratios_vs_raw": read_vs_raw},
        "registrations": written["registrations"],
        "serving_plan": {**plan, "p50_ms": round(plan["service"]["p50_ms"], 2),
                         "p99_ms": round(plan["service"]["p99_ms"], 2)},
        "parameters": parameters,
        "machine": machine,
        **stamp,
        "duration_s": round(time.monotonic() - started, 1),
    }
    out = Path(os.environ.get("REGISTRY_BENCH_OUT") or REPO / "bench" / "results" / "registry.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, indent=2))


if __name__ == "__main__":
    main()
