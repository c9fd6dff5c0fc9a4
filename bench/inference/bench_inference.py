"""Inference benchmark: swap latency, tail latency during swaps, adapter-vs-base throughput.

Standalone (``var/venv/model/bin/python bench/inference/bench_inference.py``): starts a broker,
a registry and the inference service, trains small real LoRA adapters, then measures

- ``swap_latency_s``: from the ``adapter.alias_moved`` event (its ``occurred_at``) to the first
  response whose header names the new version, over ``--swaps`` promotions made while
  ``--clients`` clients stream completions. Each round registers the next version (its files
  uploaded beforehand, as a trainer does before registering), waits half the interval (the
  time an evaluation would take) and moves ``production`` to it; ``switch_s`` splits each
  swap into event -> routing switch in the replica and switch -> first response;
- ``p99_during_swaps_over_steady``: request latency p99 over the swap blocks, over p99 of the
  steady blocks (same length, same clients, prompts and adapter name, no registration, no
  promotion) that alternate with them, so both see the same background load;
- ``adapter_over_base_throughput``: completion tokens/s through an adapter over the base
  model's, both warmed first, then ``--rounds`` interleaved rounds each (base, adapter, base,
  ...); the figure is the median of the per-pair ratios, every round is in ``raw``;
- ``failed_requests``: failed requests over the whole run.

The machine's load average is recorded before and after every phase: on a shared machine
compare the ratios, not the absolute figures.

Writes ``bench/results/inference.json``. The stack helpers (``adaptloop_devstack.inference_stack``) are
the ones the integration tests use.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from adaptloop_contracts import RegistryEvent, TopicNames
from adaptloop_devstack.bench_stamp import OUTSIDE_RESULTS, load_average, run_stamp
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


def phase(name: str, load: Load, **extra: Any) -> dict[str, Any]:
    """One phase's figures, with the load average around it."""
    return {"phase": name, "requests": len(load.records), "failures": len(load.failures),
            "tokens_per_s": round(load.tokens_per_s, 2), "p50_s": round(percentile(load.latencies, 50), 4),
            "p99_s": round(percentile(load.latencies, 99), 4), "load_before": load.load_before,
            "load_after": load.load_after, **extra}


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
        self.load_before = load_average()
        self.started = time.time()
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(120)
        self.stopped = time.time()
        self.load_after = load_average()

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


def stamp() -> dict[str, Any]:
    """Date, git revision and the machine (with torch, vLLM and whether a GPU is there) and its load now."""
    import torch
    import vllm

    return run_stamp(OUTSIDE_RESULTS, torch=torch.__version__, vllm=vllm.__version__, gpu=torch.cuda.is_available())


def run(args: argparse.Namespace) -> dict[str, Any]:
    from adaptloop_scenarios.tiny_model import ensure_tiny_model

    started = stamp()
    settings = {f"ADAPTLOOP_INFERENCE_{k.upper()}": v for k, _, v in (item.partition("=") for item in args.setting)}
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
            "OTEL_SDK_DISABLED": "true", **settings}, work / "inference.log")
        inference.start()
        loras = LoraFactory(model_dir, work / "loras")
        adapters = [loras.adapter(900 + i, steps=2) for i in range(args.swaps + 1)]
        inference.wait_ready()
        name = "bench"
        registry.create_adapter(name, BASE_MODEL)
        files = [(registry.upload(a / "adapter_model.safetensors"), registry.upload(a / "adapter_config.json"))
                 for a in adapters]

        def register(index: int) -> int:
            weights, config = files[index]
            answer = registry._call("POST", f"/v1/adapters/{name}/versions", token=TRAINER_TOKEN, json={
                "weights_sha256": weights, "config_sha256": config, "metrics": {},
                "evaluation": {"passed": True, "metrics": {}}})
            return int(answer["version"])

        events = AliasEvents(broker.bootstrap, topics, name)
        first = register(0)
        registry.move_alias(name, "production", first)
        wait_until(lambda: inference.state()["routes"].get(name, {}).get("production", {}).get("version")
                   == first, timeout_s=30, what="first promotion")
        wait_until(lambda: inference.state()["events_subscribed"], timeout_s=30, what="event follower assigned")

        phases: list[dict[str, Any]] = []
        failures: list[str] = []
        for model in (BASE_MODEL, name):  # warm both before anything is measured
            with Load(inference.url, model, args.clients) as warm:
                time.sleep(args.warmup_seconds)
            phases.append(phase(f"warmup {model}", warm))
            failures += warm.failures
        base_rounds: list[Load] = []
        adapter_rounds: list[Load] = []
        for _ in range(args.rounds):
            for model, rounds in ((BASE_MODEL, base_rounds), (name, adapter_rounds)):
                with Load(inference.url, model, args.clients) as measured:
                    time.sleep(args.phase_seconds)
                rounds.append(measured)
                phases.append(phase("base" if model == BASE_MODEL else "adapter", measured))
                failures += measured.failures

        # Swap blocks alternate with steady blocks of the same length (same clients, same adapter name), so
        # both see the same background load; the serving state is read between blocks, never during one.
        versions: list[int] = []
        switched_at: dict[int, float] = {}
        steady_blocks: list[Load] = []
        swap_blocks: list[tuple[Load, list[int]]] = []
        index = 1
        while index <= args.swaps:
            block = list(range(index, min(args.swaps, index + args.swaps_per_block - 1) + 1))
            index = block[-1] + 1
            with Load(inference.url, name, args.clients) as steady:
                time.sleep(len(block) * args.swap_interval_s)
            steady_blocks.append(steady)
            phases.append(phase("steady", steady))
            moved: list[int] = []
            with Load(inference.url, name, args.clients) as swapping:
                for n in block:
                    version = register(n)
                    moved.append(version)
                    time.sleep(args.swap_interval_s / 2)
                    registry.move_alias(name, "production", version)
                    time.sleep(args.swap_interval_s / 2)
            versions += moved
            swap_blocks.append((swapping, moved))
            phases.append(phase("swaps", swapping, swaps=len(moved)))
            for swap in inference.state()["recent_swaps"]:
                if swap["adapter"] == name and swap["alias"] == "production" and swap["to_version"]:
                    switched_at.setdefault(swap["to_version"], swap["at"])
        for load in [*steady_blocks, *(b for b, _ in swap_blocks)]:
            failures += load.failures
        wait_until(lambda: all(v in events.moved_at for v in versions), timeout_s=30, what="alias events")
        events.close()

        swap_latencies, to_switch, switch_to_response = [], [], []
        for swapping, moved in swap_blocks:
            for version in moved:
                first_response = min((r["headers_at"] for r in swapping.records if r["version"] == str(version)),
                                     default=None)
                if first_response is None:
                    continue
                swap_latencies.append(first_response - events.moved_at[version])
                if version in switched_at:
                    to_switch.append(switched_at[version] - events.moved_at[version])
                    switch_to_response.append(first_response - switched_at[version])
        state = inference.state()
        steady_p99 = percentile([x for load in steady_blocks for x in load.latencies], 99)
        swap_p99 = percentile([x for load, _ in swap_blocks for x in load.latencies], 99)
        block_ratios = [percentile(b.latencies, 99) / percentile(a.latencies, 99)
                        for a, (b, _) in zip(steady_blocks, swap_blocks, strict=True)]
        ratios = [a.tokens_per_s / b.tokens_per_s for a, b in zip(adapter_rounds, base_rounds, strict=True)]

        def summary(values: list[float]) -> dict[str, float]:
            if not values:
                return {}
            return {"p50": round(percentile(values, 50), 4), "p99": round(percentile(values, 99), 4),
                    "max": round(max(values), 4), "mean": round(statistics.mean(values), 4)}

        return {
            "swap_latency_s": summary(swap_latencies),
            "swaps_measured": len(swap_latencies),
            "swaps_requested": args.swaps,
            "p99_during_swaps_over_steady": round(swap_p99 / steady_p99, 4),
            "failed_requests": len(failures),
            "adapter_over_base_throughput": round(statistics.median(ratios), 4),
            "raw": {
                "switch_s": {"event_to_switch": summary(to_switch),
                             "switch_to_first_response": summary(switch_to_response)},
                "latency_p99_s": {"steady": round(steady_p99, 4), "swaps": round(swap_p99, 4)},
                "p99_during_swaps_over_steady_per_block": [round(r, 4) for r in block_ratios],
                "throughput_ratio_per_round": [round(r, 4) for r in ratios],
                "phases": phases,
                "swap_latencies_s": [round(x, 4) for x in swap_latencies],
                "failures": failures[:20],
                "loaded_after": [e["version"] for e in state["loaded"]],
                "engine_loras_after": state["engine_loras"],
            },
            "parameters": {"clients": args.clients, "phase_seconds": args.phase_seconds, "rounds": args.rounds,
                           "warmup_seconds": args.warmup_seconds, "swap_interval_s": args.swap_interval_s,
                           "swaps_per_block": args.swaps_per_block, "settings": settings,
                           "max_tokens": MAX_TOKENS, "model": BASE_MODEL, "lora_rank": 8},
            **started,
            "machine": {**started["machine"], "load_average_at_end": load_average()},
            "targets": {"swap_latency_p99_s": 1.0, "swaps_measured_min": 50, "failed_requests": 0,
                        "p99_during_swaps_over_steady": 1.2},
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
    parser.add_argument("--swaps", type=int, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--phase-seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup-seconds", type=float, default=5.0)
    parser.add_argument("--swap-interval-s", type=float, default=2.0)
    parser.add_argument("--swaps-per-block", type=int, default=10)
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="an inference setting for this run, e.g. preload_slots=0 (ADAPTLOOP_INFERENCE_ omitted)")
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
