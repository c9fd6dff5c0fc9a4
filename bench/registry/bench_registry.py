"""Registry benchmark: the service against the same SQL issued straight through psycopg, in one run.

Seeds 1,000 adapters x 20 versions, then measures
- serving-plan reads (one client, sequential) and alias reads (16 clients) per second with p50/p99,
- version registrations per second under 16 concurrent clients,
each through the running service (a subprocess on a loopback port, relay on, real broker) and through
raw psycopg doing the same statements. Writes bench/results/registry.json.

    var/venv/stream/bin/python bench/registry/bench_registry.py
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import platform
import random
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
from adaptloop_devstack.broker import free_port, start_broker
from adaptloop_devstack.postgres import create_test_database, drop_database, sqlalchemy_url
from adaptloop_registry.serving_plan import POSTGRES_SERVING_PLAN_SQL

ADAPTERS = 1_000
VERSIONS = 20
CLIENTS = 16
WORKERS = os.cpu_count() or 1
PLAN_READS = 40
READ_SECONDS = 8.0
WRITE_SECONDS = 8.0
SCHEMA = "registry"
TOKEN = "bench-trainer-token"
REPO = Path(__file__).resolve().parents[2]

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
        "ADAPTLOOP_REGISTRY_DB_POOL_SIZE": str(CLIENTS // WORKERS),
        "ADAPTLOOP_REGISTRY_WORKERS": str(WORKERS),
        "ADAPTLOOP_REGISTRY_LOG_LEVEL": "WARNING",
        "ADAPTLOOP_REGISTRY_TOKENS": f"bench:trainer:{hashlib.sha256(TOKEN.encode()).hexdigest()}",
    })
    log = open(workdir / "registry.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([sys.executable, "-m", "adaptloop_registry"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"registry exited: {(workdir / 'registry.log').read_text()[-2000:]}")
        try:
            Http(port).call("GET", "/readyz")
            return proc, port
        except (OSError, RuntimeError):
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("registry not ready within 60s")


def sequential(n: int, work: Callable[[], None]) -> dict[str, float]:
    latencies = []
    begin = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        work()
        latencies.append(time.perf_counter() - t0)
    return summary(latencies, time.perf_counter() - begin)


def bench_reads(dsn: str, port: int) -> dict[str, Any]:
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
    plan_raw = sequential(PLAN_READS, raw_plan)
    plan_service = sequential(PLAN_READS, service_plan)
    raw.close()

    def raw_alias_worker(i: int) -> Callable[[], None]:
        conn = psycopg.connect(dsn, options=f"-csearch_path={SCHEMA}", autocommit=True)
        rng = random.Random(i)
        return lambda: conn.execute(ALIAS_SQL, (f"adapter-{rng.randint(1, ADAPTERS):04d}", "production")).fetchone()

    def service_alias_worker(i: int) -> Callable[[], None]:
        client = Http(port)
        rng = random.Random(i)
        return lambda: client.call("GET", f"/v1/adapters/adapter-{rng.randint(1, ADAPTERS):04d}/aliases/production")

    alias_raw = run_clients(CLIENTS, READ_SECONDS, raw_alias_worker)
    alias_service = run_clients(CLIENTS, READ_SECONDS, service_alias_worker)
    return {"plan_raw": plan_raw, "plan_service": plan_service, "alias_raw": alias_raw, "alias_service": alias_service,
            "plan_bytes": len(json.dumps(plan))}


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


def bench_writes(dsn: str, port: int, weights: str, config: str) -> dict[str, Any]:
    def raw_worker(i: int) -> Callable[[], None]:
        conn = psycopg.connect(dsn, options=f"-csearch_path={SCHEMA}", autocommit=True)
        rng = random.Random(1000 + i)
        return lambda: raw_registration(conn, f"adapter-{rng.randint(1, ADAPTERS):04d}", weights, config,
                                        uuid.uuid4().hex)

    def service_worker(i: int) -> Callable[[], None]:
        client = Http(port)
        rng = random.Random(2000 + i)

        def register() -> None:
            body = json.dumps({"weights_sha256": weights, "config_sha256": config, "request_id": uuid.uuid4().hex,
                               "training_config": {}, "metrics": {}}).encode()
            client.call("POST", f"/v1/adapters/adapter-{rng.randint(1, ADAPTERS):04d}/versions", body, expect=(201,))
        return register

    raw = run_clients(CLIENTS, WRITE_SECONDS, raw_worker)
    service = run_clients(CLIENTS, WRITE_SECONDS, service_worker)
    return {"raw": raw, "service": service}


def main() -> None:
    started = time.monotonic()
    dsn = create_test_database("adaptloop_bench")
    workdir = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    broker = start_broker(free_port(), log_path=workdir / "broker.log")
    proc = None
    try:
        proc, port = start_service(dsn, broker.bootstrap, workdir)  # migrates the schema at start
        weights, config = seed(dsn)
        reads = bench_reads(dsn, port)
        writes = bench_writes(dsn, port, weights, config)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        broker.stop()
        drop_database(dsn)
    with psycopg.connect(dsn.rpartition("/")[0] + "/postgres") as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    plan_ratio = reads["plan_service"]["ops_per_s"] / reads["plan_raw"]["ops_per_s"]
    alias_ratio = reads["alias_service"]["ops_per_s"] / reads["alias_raw"]["ops_per_s"]
    write_ratio = writes["service"]["ops_per_s"] / writes["raw"]["ops_per_s"]
    result = {
        "read_ratio_vs_raw": round(min(plan_ratio, alias_ratio), 3),
        "write_ratio_vs_raw": round(write_ratio, 3),
        "read_p50_ms": round(reads["alias_service"]["p50_ms"], 2),
        "read_p99_ms": round(reads["alias_service"]["p99_ms"], 2),
        "read_ratio_definition": "the lower of the serving-plan and alias read ratios (service reads/s over the "
                                 "same SQL through psycopg); read_p50/p99 are the alias reads under 16 clients",
        "serving_plan_p50_ms": round(reads["plan_service"]["p50_ms"], 2),
        "serving_plan_p99_ms": round(reads["plan_service"]["p99_ms"], 2),
        "serving_plan_ratio_vs_raw": round(plan_ratio, 3),
        "alias_read_ratio_vs_raw": round(alias_ratio, 3),
        "alias_read_p50_ms": round(reads["alias_service"]["p50_ms"], 2),
        "alias_read_p99_ms": round(reads["alias_service"]["p99_ms"], 2),
        "target_ratio": 0.5,
        "serving_plan": {"service": reads["plan_service"], "raw": reads["plan_raw"], "bytes": reads["plan_bytes"]},
        "alias_reads": {"service": reads["alias_service"], "raw": reads["alias_raw"], "clients": CLIENTS},
        "registrations": {"service": writes["service"], "raw": writes["raw"], "clients": CLIENTS},
        "parameters": {"adapters": ADAPTERS, "versions_per_adapter": VERSIONS, "clients": CLIENTS,
                       "plan_reads": PLAN_READS, "read_seconds": READ_SECONDS, "write_seconds": WRITE_SECONDS,
                       "service": "python -m adaptloop_registry (uvicorn, relay on, real broker)",
                       "service_workers": WORKERS},
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "postgres": pg_version},
        "date": datetime.now(UTC).isoformat(),
        "duration_s": round(time.monotonic() - started, 1),
    }
    out = REPO / "bench" / "results" / "registry.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, indent=2))


if __name__ == "__main__":
    main()
