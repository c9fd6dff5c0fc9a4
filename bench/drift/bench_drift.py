"""Drift benchmark -> bench/results/drift.json (run with var/venv/stream/bin/python; a few minutes).

- throughput_ratio_vs_bare_consumer: events/s through the drift service (consume, decode, signals,
  detectors, checkpoints) over events/s of a bare confluent-kafka consumer reading the same topics
  on the same broker in the same run.
- delay_ratio_vs_adwin / mean_delay_events / false_alarms_per_100k: the service's quality detector
  against a lone River ADWIN (default parameters) on the same MOA-style abrupt streams.
- bytes_per_adapter: detector state (pickled, as checkpointed) and heap growth with 1,000 adapters.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from adaptloop_contracts import TopicNames
from adaptloop_devstack.broker import free_port, start_broker
from adaptloop_devstack.paths import repo_root
from adaptloop_drift.detectors import SignalDetector
from adaptloop_drift.monitor import DEFAULT_DETECTORS, AdapterMonitors, MonitorConfig
from adaptloop_drift.signals import Signal
from adaptloop_drift.synthetic import abrupt_error_probabilities, errors, make_feedback, make_log
from adaptloop_kafka import GROUP_SESSION_TIMEOUT_MS, EventProducer, ensure_topics, new_consumer
from adaptloop_scenarios.corpus import generate_pairs
from river import drift

SEEDS = range(5)
EVENTS = int(os.environ.get("DRIFT_BENCH_EVENTS", "100000"))


def detection_figures(make) -> tuple[float, int, int]:  # type: ignore[no-untyped-def]
    """Mean delay, missed changes and false alarms (alarms beyond the first per segment) over the seeds."""
    delays, missed, false_alarms = [], 0, 0
    for seed in SEEDS:
        stream = errors(list(abrupt_error_probabilities()), seed=seed)
        det = make()
        alarms = []
        for i, x in enumerate(stream):
            det.update(float(x))  # River's ADWIN.update returns None
            if det.drift_detected:
                alarms.append(i)
        for seg in range(101):
            hits = [a for a in alarms if seg * 250 <= a < seg * 250 + 250]
            if seg == 0:
                false_alarms += len(hits)
            elif hits:
                delays.append(hits[0] - seg * 250)
                false_alarms += len(hits) - 1
            else:
                missed += 1
    return sum(delays) / len(delays), missed, false_alarms


def stationary_alarms(make, n: int = 100_000) -> int:  # type: ignore[no-untyped-def]
    total = 0
    for seed, p in ((1, 0.2), (2, 0.5), (3, 0.8)):
        det = make()
        for x in errors([p] * n, seed=seed):
            det.update(float(x))
            total += det.drift_detected
    return total


def memory_per_adapter(adapters: int = 1000) -> dict[str, float]:
    pairs = generate_pairs("security_ops", 400, seed=4)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    monitors = AdapterMonitors(MonitorConfig())
    for a in range(adapters):
        name = f"adapter-{a}"
        for i in range(300):
            monitors.observe_log(name, make_log(name, i, seed=a, prompt=pairs[i].prompt))
        for i in range(100):
            monitors.observe_feedback(name, make_feedback(name, i, i % 5 == 0, seed=a))
    heap = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return {"pickled": len(pickle.dumps(monitors)) / adapters, "heap": heap / adapters}


def bare_consumer_rate(bootstrap: str, names: list[str], n: int) -> float:
    c = new_consumer(bootstrap, {"group.id": f"bare-{uuid.uuid4().hex}",
                  "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(names)
    got, start = 0, None
    while got < n:
        batch = c.consume(1000, 1.0)
        if batch and start is None:
            start = time.perf_counter()
        got += sum(1 for m in batch if m.error() is None)
    rate = n / (time.perf_counter() - (start or time.perf_counter()))
    c.close()
    return rate


TRACING_ROUNDS = 3


def service_rate(bootstrap: str, prefix: str, n: int, workdir: Path, *, tracing: bool = False) -> float:
    """Events/s through a drift service process reading the topics from the start (its own group).

    With `tracing`, spans are recorded and exported (to a JSON-lines file) as in production;
    without, the OpenTelemetry SDK is disabled.
    """
    port = free_port()
    run_dir = workdir / f"run-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir(parents=True)
    env = dict(os.environ, ADAPTLOOP_DRIFT_KAFKA_BOOTSTRAP=bootstrap, ADAPTLOOP_DRIFT_TOPIC_PREFIX=prefix,
               ADAPTLOOP_DRIFT_PORT=str(port), ADAPTLOOP_DRIFT_DATA_DIR=str(run_dir),
               ADAPTLOOP_DRIFT_GROUP_ID=f"bench-{run_dir.name}", ADAPTLOOP_DRIFT_LOG_LEVEL="WARNING")
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    if tracing:
        env.pop("OTEL_SDK_DISABLED", None)
        env["ADAPTLOOP_SPAN_FILE"] = str(run_dir / "spans.jsonl")
    else:
        env["OTEL_SDK_DISABLED"] = "true"
        env.pop("ADAPTLOOP_SPAN_FILE", None)
    log = open(run_dir / "drift.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "adaptloop_drift"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        samples: list[tuple[float, float]] = []
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            done = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("adaptloop_drift_events_total{"))
            samples.append((time.perf_counter(), done))
            if done >= n:
                break
            time.sleep(0.1)
        first = next(s for s in samples if s[1] > 0)
        last = samples[-1]
        return (last[1] - first[1]) / (last[0] - first[0])
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    root = repo_root()
    workdir = root / "var" / "bench" / f"drift-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True, exist_ok=True)
    quality = DEFAULT_DETECTORS[Signal.QUALITY_ERROR]
    ours = detection_figures(lambda: SignalDetector(quality))
    adwin = detection_figures(lambda: drift.ADWIN())
    stat_ours = stationary_alarms(lambda: SignalDetector(quality))
    stat_adwin = stationary_alarms(lambda: drift.ADWIN())
    changes_events = len(SEEDS) * 101 * 250
    memory = memory_per_adapter()

    broker = start_broker(free_port(), log_path=workdir / "broker.log")
    try:
        names = TopicNames(f"b{uuid.uuid4().hex[:6]}.")
        ensure_topics(broker.bootstrap, names.all_with_partitions())
        producer = EventProducer(broker.bootstrap, topics=names, config={"linger.ms": 50})
        pairs = generate_pairs("capital_markets", 2000, seed=1)
        errs = errors([0.2] * (EVENTS // 2), seed=1)
        rng = random.Random(1)
        for i in range(EVENTS // 2):
            adapter = f"adapter-{i % 16}"
            pair = pairs[i % len(pairs)]
            producer.publish("inference.logs", make_log(adapter, i, seed=1, prompt=pair.prompt, completion=pair.answer,
                                                        rng=rng))
            producer.publish("inference.feedback", make_feedback(adapter, i, errs[i], seed=1))
        producer.flush(60)
        topics = [names("inference.logs"), names("inference.feedback")]
        bare = bare_consumer_rate(broker.bootstrap, topics, EVENTS)
        # Tracing off and on, interleaved and repeated: one run of each differs by more than
        # the effect on a shared 2-core machine; the medians are compared.
        untraced_runs, traced_runs = [], []
        for _ in range(TRACING_ROUNDS):
            untraced_runs.append(service_rate(broker.bootstrap, names.prefix, EVENTS, workdir))
            traced_runs.append(service_rate(broker.bootstrap, names.prefix, EVENTS, workdir, tracing=True))
        through, traced = statistics.median(untraced_runs), statistics.median(traced_runs)
        bare_again = bare_consumer_rate(broker.bootstrap, topics, EVENTS)
    finally:
        broker.stop()

    bare_rate = (bare + bare_again) / 2
    result = {
        "throughput_ratio_vs_bare_consumer": round(through / bare_rate, 4),
        "delay_ratio_vs_adwin": round(ours[0] / adwin[0], 4),
        "false_alarms_per_100k": round(stat_ours * 100_000 / (3 * 100_000), 4),
        "mean_delay_events": round(ours[0], 2),
        "tracing_on_over_off": round(traced / through, 4),
        "bytes_per_adapter": round(memory["pickled"]),
        "raw": {
            "events": EVENTS,
            "service_events_per_s": round(through),
            "service_events_per_s_tracing_on": round(traced),
            "service_events_per_s_runs": {"tracing_off": [round(r) for r in untraced_runs],
                                          "tracing_on": [round(r) for r in traced_runs]},
            "bare_consumer_events_per_s": [round(bare), round(bare_again)],
            "moa": {"seeds": len(SEEDS), "changes_per_seed": 100, "segment": 250,
                    "ours": {"mean_delay": ours[0], "missed": ours[1], "false_alarms": ours[2]},
                    "adwin_default": {"mean_delay": adwin[0], "missed": adwin[1], "false_alarms": adwin[2]},
                    "false_alarms_per_100k_on_moa": {"ours": ours[2] * 100_000 / changes_events,
                                                     "adwin_default": adwin[2] * 100_000 / changes_events}},
            "stationary_300k": {"ours": stat_ours, "adwin_default": stat_adwin, "error_rates": [0.2, 0.5, 0.8]},
            "heap_bytes_per_adapter": round(memory["heap"]),
            "quality_detector": quality.model_dump(),
        },
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = root / "bench" / "results" / "drift.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
