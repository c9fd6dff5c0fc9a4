"""Drift benchmark -> bench/results/drift.json (run with var/venv/stream/bin/python; a few minutes).

- throughput_ratio_vs_bare_consumer: events/s through the drift service (consume, decode, signals,
  detectors, checkpoints) over events/s of a bare confluent-kafka consumer reading the same topics
  on the same broker in the same run (the bare runs before and after the service's, averaged).
- throughput_ratio_vs_decoding_consumer: the same over a bare consumer that also parses each
  message's JSON (`json.loads`), the least any consumer of these events does.
- cpu_us_per_event: CPU of the service process (and of its busiest thread, the signal consumer)
  per event while it reads, from /proc: what the figures above turn into on a loaded machine.
- The service runs as it does by default: its signal consumer in child processes of the worker
  (`ADAPTLOOP_DRIFT_SIGNAL_PROCESSES` unset: one per core, at most 4), CPU counted over the worker and
  its children.
- processes_over_in_thread: events/s of the default over the same service with its signal consumer in a
  thread of the worker (`SIGNAL_PROCESSES=1`, the mode before child processes), the baseline of that change.
- native_novelty_over_python: events/s of the default (input novelty in the C extension) over the
  same service computing it in Python (`ADAPTLOOP_DRIFT_NATIVE_NOVELTY=false`), the baseline of that change.
- two_workers_over_one: events/s of two service processes (each in the default mode) in one consumer
  group over one process.
- delay_ratio_vs_adwin / mean_delay_events / false_alarms_per_100k: the service's quality detector
  against a lone River ADWIN (default parameters) on the same MOA-style abrupt streams, and
  River's DummyDriftDetector (alarms every t_0=300 values, or at random around that: a detector
  that watches nothing) as the floor any delay must be read against.
- bytes_per_adapter: detector state (pickled, as checkpointed) and heap growth with 1,000 adapters.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

import httpx
from adaptloop_contracts import TopicNames
from adaptloop_devstack.bench_stamp import OUTSIDE_RESULTS, load_average, run_stamp
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


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of a process, from /proc (empty where there is no /proc)."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (the worker's signal processes), from /proc (just `pid` where there is none)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(parents.get(p, []))
    return tree


def tree_cpu(pid: int) -> dict[tuple[int, int], float]:
    """CPU seconds of every thread of `pid` and its descendants, keyed by (process, thread)."""
    return {(p, t): c for p in process_tree(pid) for t, c in thread_cpu(p).items()}


def bare_consumer_rate(bootstrap: str, names: list[str], n: int, *, decode: bool = False) -> float:
    """Events/s of a confluent-kafka consumer that counts the messages (with `decode`, also parses their JSON)."""
    c = new_consumer(bootstrap, {"group.id": f"bare-{uuid.uuid4().hex}",
                  "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(names)
    got, start = 0, None
    while got < n:
        batch = c.consume(1000, 1.0)
        if batch and start is None:
            start = time.perf_counter()
        if decode:
            for m in batch:
                if m.error() is None:
                    json.loads(m.value())
                    got += 1
        else:
            got += sum(1 for m in batch if m.error() is None)
    rate = n / (time.perf_counter() - (start or time.perf_counter()))
    c.close()
    return rate


TRACING_ROUNDS = int(os.environ.get("DRIFT_BENCH_ROUNDS", "3"))


def _events_done(port: int) -> float | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("adaptloop_drift_events_total{"))


def service_rate(bootstrap: str, prefix: str, n: int, workdir: Path, *, tracing: bool = False,
                 workers: int = 1, signal_processes: int | None = None,
                 native_novelty: bool = True) -> dict[str, float]:
    """Events/s through drift service processes reading the topics from the start (their own group).

    With `tracing`, spans are recorded and exported (to a JSON-lines file) as in production;
    without, the OpenTelemetry SDK is disabled. With `workers` > 1 the processes share the group
    (and the checkpoint directory, as on one host) and split the partitions. `signal_processes`
    sets `ADAPTLOOP_DRIFT_SIGNAL_PROCESSES` (None: the service's default); `native_novelty` False
    computes input novelty in Python instead of the C extension. Also the CPU per event
    of the workers with their signal processes, and of the busiest thread of each process summed,
    over the span where events were counted.
    """
    run_dir = workdir / f"run-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir(parents=True)
    procs: list[tuple[int, subprocess.Popen[bytes]]] = []
    for w in range(workers):
        port = free_port()
        env = dict(os.environ, ADAPTLOOP_DRIFT_KAFKA_BOOTSTRAP=bootstrap, ADAPTLOOP_DRIFT_TOPIC_PREFIX=prefix,
                   ADAPTLOOP_DRIFT_PORT=str(port), ADAPTLOOP_DRIFT_DATA_DIR=str(run_dir),
                   ADAPTLOOP_DRIFT_GROUP_ID=f"bench-{run_dir.name}", ADAPTLOOP_DRIFT_LOG_LEVEL="WARNING")
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        env.pop("ADAPTLOOP_DRIFT_SIGNAL_PROCESSES", None)
        if signal_processes is not None:
            env["ADAPTLOOP_DRIFT_SIGNAL_PROCESSES"] = str(signal_processes)
        env["ADAPTLOOP_DRIFT_NATIVE_NOVELTY"] = "true" if native_novelty else "false"
        if tracing:
            env.pop("OTEL_SDK_DISABLED", None)
            env["ADAPTLOOP_SPAN_FILE"] = str(run_dir / f"spans-{w}.jsonl")
        else:
            env["OTEL_SDK_DISABLED"] = "true"
            env.pop("ADAPTLOOP_SPAN_FILE", None)
        log = open(run_dir / f"drift-{w}.log", "wb")  # noqa: SIM115
        procs.append((port, subprocess.Popen([sys.executable, "-m", "adaptloop_drift"], env=env, stdout=log,
                                             stderr=subprocess.STDOUT)))
    try:
        samples: list[tuple[float, float]] = []
        cpu_at_first: list[dict[tuple[int, int], float]] = []
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            dead = [p for _, p in procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"drift service exited with {dead[0].returncode}; see {run_dir}/drift-*.log")
            counts = [_events_done(port) for port, _ in procs]
            if None in counts:
                time.sleep(0.5)
                continue
            done = sum(c or 0.0 for c in counts)
            samples.append((time.perf_counter(), done))
            if done > 0 and not cpu_at_first:
                cpu_at_first = [tree_cpu(p.pid) for _, p in procs]
            if done >= n:
                break
            time.sleep(0.1)
        cpu_at_last = [tree_cpu(p.pid) for _, p in procs]
        first = next(s for s in samples if s[1] > 0)
        last = samples[-1]
        events = last[1] - first[1]
        used = [{t: c - before.get(t, 0.0) for t, c in after.items()}
                for before, after in zip(cpu_at_first, cpu_at_last, strict=True)]
        busiest: dict[int, float] = {}
        for u in used:
            for (process, _), c in u.items():
                busiest[process] = max(busiest.get(process, 0.0), c)
        return {"events_per_s": events / (last[0] - first[0]),
                "cpu_us_per_event": sum(sum(u.values()) for u in used) / events * 1e6,
                "busiest_thread_cpu_us_per_event": sum(busiest.values()) / events * 1e6}
    finally:
        for _, proc in procs:
            proc.terminate()
        for _, proc in procs:
            proc.wait(30)


def default_signal_processes() -> int:
    """The signal processes a worker starts by default on this machine."""
    from adaptloop_drift.config import Settings

    return Settings().model_copy(update={"signal_processes": 0}).signal_process_count()


DUMMIES = {"dummy_fixed": lambda: drift.DummyDriftDetector(trigger_method="fixed"),
           "dummy_random": lambda: drift.DummyDriftDetector(trigger_method="random", w=100, seed=0)}
"""River's baseline detectors (t_0=300 as by default; w=100 as in River's example for random
triggers): alarms that owe nothing to the data."""


def main() -> None:
    root = repo_root()
    stamp = run_stamp(OUTSIDE_RESULTS)
    workdir = root / "var" / "bench" / f"drift-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True, exist_ok=True)
    quality = DEFAULT_DETECTORS[Signal.QUALITY_ERROR]
    ours = detection_figures(lambda: SignalDetector(quality))
    adwin = detection_figures(lambda: drift.ADWIN())
    dummies = {name: detection_figures(make) for name, make in DUMMIES.items()}
    stat_ours = stationary_alarms(lambda: SignalDetector(quality))
    stat_adwin = stationary_alarms(lambda: drift.ADWIN())
    stat_dummies = {name: stationary_alarms(make) for name, make in DUMMIES.items()}
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
        bare = [bare_consumer_rate(broker.bootstrap, topics, EVENTS)]
        decoding = [bare_consumer_rate(broker.bootstrap, topics, EVENTS, decode=True)]
        # Tracing off and on, one and two workers, novelty in C (the default) and in Python, the signal
        # consumer in processes (the default) and in a thread, interleaved and repeated: one run of each
        # differs by more than the effect on a shared 2-core machine; the medians are compared.
        runs: dict[str, list[dict[str, float]]] = {"tracing_off": [], "tracing_on": [], "two_workers": [],
                                                   "in_thread": [], "python_novelty": []}
        for _ in range(TRACING_ROUNDS):
            runs["tracing_off"].append(service_rate(broker.bootstrap, names.prefix, EVENTS, workdir))
            runs["in_thread"].append(service_rate(broker.bootstrap, names.prefix, EVENTS, workdir,
                                                  signal_processes=1))
            runs["tracing_on"].append(service_rate(broker.bootstrap, names.prefix, EVENTS, workdir, tracing=True))
            runs["two_workers"].append(service_rate(broker.bootstrap, names.prefix, EVENTS, workdir, workers=2))
            runs["python_novelty"].append(service_rate(broker.bootstrap, names.prefix, EVENTS, workdir,
                                                       native_novelty=False))
        bare.append(bare_consumer_rate(broker.bootstrap, topics, EVENTS))
        decoding.append(bare_consumer_rate(broker.bootstrap, topics, EVENTS, decode=True))
    finally:
        broker.stop()

    def median(kind: str, key: str = "events_per_s") -> float:
        return statistics.median(r[key] for r in runs[kind])

    through, traced, two = median("tracing_off"), median("tracing_on"), median("two_workers")
    in_thread, python_novelty = median("in_thread"), median("python_novelty")
    bare_rate, decoding_rate = statistics.mean(bare), statistics.mean(decoding)
    detection = {"ours": ours, "adwin_default": adwin, **dummies}
    result = {
        "throughput_ratio_vs_bare_consumer": round(through / bare_rate, 4),
        "throughput_ratio_vs_decoding_consumer": round(through / decoding_rate, 4),
        "two_workers_over_one": round(two / through, 4),
        "processes_over_in_thread": round(through / in_thread, 4),
        "in_thread_ratio_vs_bare_consumer": round(in_thread / bare_rate, 4),
        "native_novelty_over_python": round(through / python_novelty, 4),
        "python_novelty_ratio_vs_bare_consumer": round(python_novelty / bare_rate, 4),
        "cpu_us_per_event": round(median("tracing_off", "cpu_us_per_event"), 2),
        "delay_ratio_vs_adwin": round(ours[0] / adwin[0], 4),
        "delay_ratio_vs_dummy_fixed": round(ours[0] / dummies["dummy_fixed"][0], 4),
        "false_alarms_per_100k": round(stat_ours * 100_000 / (3 * 100_000), 4),
        "mean_delay_events": round(ours[0], 2),
        "tracing_on_over_off": round(traced / through, 4),
        "bytes_per_adapter": round(memory["pickled"]),
        "raw": {
            "events": EVENTS,
            "service_events_per_s": round(through),
            "service_events_per_s_tracing_on": round(traced),
            "service_events_per_s_two_workers": round(two),
            "service_events_per_s_in_thread": round(in_thread),
            "service_events_per_s_python_novelty": round(python_novelty),
            "cpu_us_per_event_python_novelty": round(median("python_novelty", "cpu_us_per_event"), 2),
            "signal_processes": default_signal_processes(),
            "service_runs": {kind: [{k: round(v, 2) for k, v in r.items()} for r in rs] for kind, rs in runs.items()},
            "bare_consumer_events_per_s": [round(r) for r in bare],
            "decoding_consumer_events_per_s": [round(r) for r in decoding],
            "busiest_thread_cpu_us_per_event": round(median("tracing_off", "busiest_thread_cpu_us_per_event"), 2),
            "moa": {"seeds": len(SEEDS), "changes_per_seed": 100, "segment": 250,
                    **{name: {"mean_delay": f[0], "missed": f[1], "false_alarms": f[2]}
                       for name, f in detection.items()},
                    "false_alarms_per_100k_on_moa": {name: f[2] * 100_000 / changes_events
                                                     for name, f in detection.items()}},
            "stationary_300k": {"ours": stat_ours, "adwin_default": stat_adwin, **stat_dummies,
                                "error_rates": [0.2, 0.5, 0.8]},
            "heap_bytes_per_adapter": round(memory["heap"]),
            "quality_detector": quality.model_dump(),
        },
    }
    result = {**stamp, "machine": {**stamp["machine"], "load_average_at_end": load_average()}, **result}
    out = root / "bench" / "results" / "drift.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
