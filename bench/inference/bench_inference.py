"""Inference benchmark: swap latency, tail latency during swaps, adapter-vs-base throughput.

Standalone (``var/venv/model/bin/python bench/inference/bench_inference.py``): starts a broker,
a registry and the inference service, trains small real LoRA adapters, then measures

- ``swap_latency_s``: from the ``adapter.alias_moved`` event (its ``occurred_at``) to the first
  response whose header names the new version, over ``--swaps`` promotions;
- ``p99_during_swaps_over_steady``: request latency p99 while promoting, over p99 with no
  promotion, same clients and prompts;
- ``adapter_over_base_throughput``: completion tokens/s through an adapter over the base model's;
- ``failed_requests``: failed requests during the swap run.

Writes ``bench/results/inference.json``. The stack helpers (``adaptloop_devstack.inference_stack``) are
the ones the integration tests use.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from adaptloop_contracts import RegistryEvent, TopicNames
from adaptloop_devstack.broker import free_port, start_broker
from adaptloop_devstack.inference_stack import (
    ADMIN_TOKEN,
    PROMPTS,
    TRAINER_TOKEN,
    InferenceService,
    LoraFactory,
    Registry,
    digest,
    spawn,
    wait_until,
)
from adaptloop_devstack.postgres import create_test_database, drop_database, sqlalchemy_url
from adaptloop_kafka import GROUP_SESSION_TIMEOUT_MS, ensure_topics, new_consumer

REPO = Path(__file__).resolve().parents[2]

BASE_MODEL = "tiny-llama"
MAX_TOKENS = 16


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Load:
    """`clients` threads streaming greedy completions of `model` until stopped; records every request."""

    def __init__(self, url: str, model: str, clients: int) -> None:
        self.url, self.model, self.clients = url, model, clients
        self.records: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]

    def __enter__(self) -> Load:
        self.started = time.time()
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(120)
        self.stopped = time.time()

    def _client(self, index: int) -> None:
        with httpx.Client(timeout=120) as http:
            n = 0
            while not self._stop.is_set():
                prompt = PROMPTS[(index + n) % len(PROMPTS)]
                n += 1
                body = {"model": self.model, "prompt": prompt, "max_tokens": MAX_TOKENS, "temperature": 0,
                        "stream": True, "stream_options": {"include_usage": True}}
                sent = time.time()
                try:
                    with http.stream("POST", f"{self.url}/v1/completions", json=body) as response:
                        response.raise_for_status()
                        headers_at = time.time()
                        version = response.headers["x-adaptloop-adapter-version"]
                        tokens = 0
                        for line in response.iter_lines():
                            if line.startswith("data: {") and '"usage"' in line:
                                tokens = json.loads(line[6:])["usage"]["completion_tokens"]
                    done = time.time()
                    with self._lock:
                        self.records.append({"sent": sent, "headers_at": headers_at, "done": done,
                                             "latency": done - sent, "version": version, "tokens": tokens})
                except Exception as exc:  # a failed request is a result, not a crash
                    with self._lock:
                        self.failures.append(f"{type(exc).__name__}: {exc}")

    @property
    def tokens_per_s(self) -> float:
        return sum(r["tokens"] for r in self.records) / max(1e-9, self.stopped - self.started)

    @property
    def latencies(self) -> list[float]:
        return [r["latency"] for r in self.records]


class AliasEvents:
    """Collects `occurred_at` of every `adapter.alias_moved` for one adapter."""

    def __init__(self, bootstrap: str, topics: TopicNames, adapter: str) -> None:
        self.moved_at: dict[int, float] = {}
        self._adapter = adapter
        self._consumer = new_consumer(bootstrap, {"group.id": f"bench-{uuid.uuid4().hex[:8]}",
                                   "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
                                   "auto.offset.reset": "earliest", "enable.auto.commit": False})
        self._consumer.subscribe([topics("registry.events")])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            event = RegistryEvent.from_json_bytes(msg.value())
            if event.model == self._adapter and event.event_type == "adapter.alias_moved" and event.version:
                self.moved_at[event.version] = event.occurred_at.timestamp()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def machine() -> dict[str, Any]:
    import torch
    import vllm

    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "processor": platform.processor(), "torch": torch.__version__, "vllm": vllm.__version__,
            "gpu": torch.cuda.is_available()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from adaptloop_scenarios.tiny_model import ensure_tiny_model

    work = Path(args.work_dir) / f"bench-inference-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    model_dir = ensure_tiny_model(REPO / "var" / "models" / BASE_MODEL)
    broker = start_broker(free_port(), log_path=work / "broker.log")
    topics = TopicNames("bench.")
    ensure_topics(broker.bootstrap, topics.all_with_partitions())
    dsn = create_test_database("adaptloop_bench")
    registry: Registry | None = None
    inference: InferenceService | None = None
    try:
        port = free_port()
        process = spawn("adaptloop_registry", "stream", {
            "ADAPTLOOP_REGISTRY_PORT": str(port), "ADAPTLOOP_REGISTRY_DATABASE_URL": sqlalchemy_url(dsn),
            "ADAPTLOOP_REGISTRY_DB_SCHEMA": "registry", "ADAPTLOOP_REGISTRY_KAFKA_BOOTSTRAP": broker.bootstrap,
            "ADAPTLOOP_REGISTRY_TOPIC_PREFIX": topics.prefix, "ADAPTLOOP_REGISTRY_ARTIFACT_DIR": str(work / "art"),
            "ADAPTLOOP_REGISTRY_TOKENS": f"b:admin:{digest(ADMIN_TOKEN)},t:trainer:{digest(TRAINER_TOKEN)}",
            "OTEL_SDK_DISABLED": "true"}, work / "registry.log")
        registry = Registry(f"http://127.0.0.1:{port}", process, work / "art", work / "registry.log")
        wait_until(lambda: httpx.get(f"{registry.url}/readyz", timeout=2).status_code == 200, timeout_s=120,
                   what="registry")
        registry.register_base_model(BASE_MODEL, model_dir)
        iport = free_port()
        inference = InferenceService(iport, {
            "ADAPTLOOP_INFERENCE_PORT": str(iport), "ADAPTLOOP_INFERENCE_REGISTRY_URL": registry.url,
            "ADAPTLOOP_INFERENCE_REGISTRY_TOKEN": TRAINER_TOKEN,
            "ADAPTLOOP_INFERENCE_MODELS_DIR": str(model_dir.parent), "ADAPTLOOP_INFERENCE_BASE_MODEL": BASE_MODEL,
            "ADAPTLOOP_INFERENCE_ADAPTER_CACHE_DIR": str(work / "adapters"),
            "ADAPTLOOP_INFERENCE_KAFKA_BOOTSTRAP": broker.bootstrap, "ADAPTLOOP_INFERENCE_TOPIC_PREFIX": topics.prefix,
            "ADAPTLOOP_INFERENCE_MAX_NUM_SEQS": str(args.clients), "VLLM_CPU_KVCACHE_SPACE": "1",
            "OTEL_SDK_DISABLED": "true"}, work / "inference.log")
        inference.start()
        loras = LoraFactory(model_dir, work / "loras")
        adapters = [loras.adapter(900 + i, steps=2) for i in range(args.swaps + 1)]
        inference.wait_ready()
        name = "bench"
        registry.create_adapter(name, BASE_MODEL)
        versions = [registry.register_version(name, a) for a in adapters]
        events = AliasEvents(broker.bootstrap, topics, name)
        registry.move_alias(name, "production", versions[0])
        wait_until(lambda: inference.state()["routes"].get(name, {}).get("production", {}).get("version")
                   == versions[0], timeout_s=30, what="first promotion")
        wait_until(lambda: inference.state()["events_subscribed"], timeout_s=30, what="event follower assigned")

        with Load(inference.url, BASE_MODEL, args.clients) as base_load:
            time.sleep(args.phase_seconds)
        with Load(inference.url, name, args.clients) as steady:
            time.sleep(args.phase_seconds)
        promoted_at: dict[int, float] = {}
        with Load(inference.url, name, args.clients) as swapping:
            for version in versions[1:]:
                time.sleep(args.swap_interval_s)
                promoted_at[version] = time.time()
                registry.move_alias(name, "production", version)
            time.sleep(args.swap_interval_s)
        wait_until(lambda: all(v in events.moved_at for v in versions[1:]), timeout_s=30, what="alias events")
        events.close()

        swap_latencies = []
        for version in versions[1:]:
            first = min((r["headers_at"] for r in swapping.records if r["version"] == str(version)), default=None)
            if first is not None:
                swap_latencies.append(first - events.moved_at[version])
        loaded = [e["version"] for e in inference.state()["loaded"]]
        steady_p99 = percentile(steady.latencies, 99)
        swap_p99 = percentile(swapping.latencies, 99)
        return {
            "swap_latency_s": {"p50": round(percentile(swap_latencies, 50), 4),
                               "p99": round(percentile(swap_latencies, 99), 4),
                               "max": round(max(swap_latencies), 4), "mean": round(statistics.mean(swap_latencies), 4)},
            "swaps_measured": len(swap_latencies),
            "swaps_requested": len(versions) - 1,
            "p99_during_swaps_over_steady": round(swap_p99 / steady_p99, 4),
            "failed_requests": len(swapping.failures) + len(steady.failures) + len(base_load.failures),
            "adapter_over_base_throughput": round(steady.tokens_per_s / base_load.tokens_per_s, 4),
            "raw": {
                "latency_p50_s": {"steady": round(percentile(steady.latencies, 50), 4),
                                  "swaps": round(percentile(swapping.latencies, 50), 4),
                                  "base": round(percentile(base_load.latencies, 50), 4)},
                "latency_p99_s": {"steady": round(steady_p99, 4), "swaps": round(swap_p99, 4),
                                  "base": round(percentile(base_load.latencies, 99), 4)},
                "tokens_per_s": {"adapter": round(steady.tokens_per_s, 2), "base": round(base_load.tokens_per_s, 2)},
                "requests": {"steady": len(steady.records), "swaps": len(swapping.records),
                             "base": len(base_load.records)},
                "swap_latencies_s": [round(x, 4) for x in swap_latencies],
                "failures": (swapping.failures + steady.failures + base_load.failures)[:20],
                "loaded_after": loaded,
            },
            "parameters": {"clients": args.clients, "phase_seconds": args.phase_seconds,
                           "swap_interval_s": args.swap_interval_s, "max_tokens": MAX_TOKENS,
                           "model": BASE_MODEL, "lora_rank": 8},
            "machine": machine(),
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "targets": {"swap_latency_p99_s": 1.0, "p99_during_swaps_over_steady": 1.2},
        }
    finally:
        if inference is not None:
            inference.stop()
        if registry is not None:
            registry.stop()
        broker.stop()
        drop_database(dsn)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--phase-seconds", type=float, default=20.0)
    parser.add_argument("--swap-interval-s", type=float, default=2.0)
    parser.add_argument("--work-dir", default="/tmp")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "inference.json")
    args = parser.parse_args()
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(args.out)
    print(json.dumps({k: result[k] for k in ("swap_latency_s", "p99_during_swaps_over_steady", "failed_requests",
                                             "adapter_over_base_throughput")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
