"""Trainer benchmark -> bench/results/trainer.json.

1. `tokens_per_s_ratio_vs_hf_trainer`: this service's training loop (packed examples flattened
   into one sequence per step, attention within each example, answer-only loss) vs a plain
   `transformers.Trainer` + peft script (padded batches by DataCollatorForSeq2Seq, its own loss)
   on the same tiny model, examples, steps, seed, LoRA settings and thread count. Both see the
   same examples per step; tokens are real (non-padding) tokens of the steps trained. Both are
   warmed first, then rounds alternate (ours, baseline, ours, baseline, ...); the headline is the
   median of the per-round ratios (each round's two runs are adjacent in time, so they share the
   machine's load), next to the same ratio of CPU time per token (`time.process_time` of the
   training loop, all threads), which a busy machine disturbs less than wall-clock. The load
   average is recorded before and after every run.
2. `non_training_share`: on a local stack (broker, registry, ingest, trainer on free ports), the
   share of the time from publishing `retrain.requested` to reading `adapter.version_registered`
   on `registry.events` that is spent outside the training loop (`train_loop_s` of the job).
   `job_timings` splits the job into its phases (snapshot, loading, loop, saving, evaluation,
   registration); `outside_job_phases_s` is the rest (the request consumed and the job queued, the
   registry's announcement relayed to `registry.events`). The job waits (up to --quiet-wait-s)
   for the 1-minute load average to fall below --max-load,
   and the CPU that processes outside the stack used during the job is measured from /proc; the
   result says `quiet: false` when either was exceeded, and the figure must not be quoted then.

Run: var/venv/model/bin/python bench/trainer/bench_trainer.py [--steps N] [--rounds R] [--skip-job]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from adaptloop_devstack.bench_stamp import OUTSIDE_RESULTS, load_average, run_stamp
from adaptloop_devstack.paths import repo_root, var_dir
from adaptloop_kafka import GROUP_SESSION_TIMEOUT_MS, new_consumer, new_producer
from adaptloop_scenarios.corpus import generate_pairs
from adaptloop_scenarios.tiny_model import ensure_tiny_model
from adaptloop_trainer.packing import pack, tokenise
from adaptloop_trainer.snapshot import Example, snapshot_from_export
from adaptloop_trainer.torch_runtime import deterministic, load_base
from adaptloop_trainer.training_config import TrainingConfig
from adaptloop_trainer.training_loop import lora_config, train_lora

# OpenMP threads that wait for each other by spinning burn a shared machine's CPU (and the
# measurement with it) whenever the other thread is descheduled; both loops run in this process
# under the same policy, set before torch loads
# (none of the imports above loads it). `OMP_WAIT_POLICY=active` in the environment
# measures spinning instead. The end-to-end job's trainer runs with the environment as it was.
OMP_POLICY_SET_HERE = "OMP_WAIT_POLICY" not in os.environ
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

THREADS = 2


def bench_examples(n: int) -> list[Example]:
    pairs = generate_pairs("automotive", n, seed=0)
    return snapshot_from_export({"prompt": p.prompt, "target": p.answer} for p in pairs).train


def run_ours(model_dir: Path, examples: list[Example], config: TrainingConfig) -> dict[str, Any]:
    load_before = load_average()
    with tempfile.TemporaryDirectory() as ckpt:
        result = train_lora(base_dir=model_dir, base_model_name="tiny-llama", train=examples, config=config,
                            checkpoint_dir=Path(ckpt), threads=THREADS, checkpoint_every=10**9)
    return run_record(result.tokens_trained, result.train_seconds, result.train_cpu_seconds, load_before,
                      final_loss=result.final_loss)


def run_record(tokens: int, seconds: float, cpu_seconds: float, load_before: list[float],
               **extra: Any) -> dict[str, Any]:
    return {"tokens": tokens, "seconds": round(seconds, 3), "cpu_seconds": round(cpu_seconds, 3),
            "tokens_per_s": round(tokens / seconds, 1), "tokens_per_cpu_s": round(tokens / cpu_seconds, 1),
            "load_before": load_before, "load_after": load_average(), **extra}


def examples_per_row(model_dir: Path, examples: list[Example], config: TrainingConfig) -> float:
    _, tokenizer = load_base(model_dir)
    rows = pack([tokenise(tokenizer, e, seq_len=config.seq_len) for e in examples], seq_len=config.seq_len,
                pad_id=tokenizer.pad_token_id)
    return len(examples) / len(rows)


def run_hf_trainer(
    model_dir: Path, examples: list[Example], config: TrainingConfig, batch_size: int
) -> dict[str, Any]:
    """The plain recipe: peft model, padded batches by DataCollatorForSeq2Seq, transformers.Trainer.

    Timed from the Trainer's `on_train_begin` (after its own set-up, as ours is timed after
    loading and packing) to the end of `train()`. Tokens are those of the batches of the
    `max_steps` steps: the data loader fetches one batch ahead, which is not trained on.
    """
    from peft import get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainerCallback, TrainingArguments

    load_before = load_average()
    # The same deterministic mode as ours, without torch's NaN fill of new tensors (a debugging aid
    # ours turns off too; a plain Trainer script runs without deterministic mode at all).
    with deterministic(config.seed, THREADS, fill_uninitialized_memory=False), tempfile.TemporaryDirectory() as out:
        model, tokenizer = load_base(model_dir)
        model = get_peft_model(model, lora_config(config))
        data = []
        for e in examples:
            t = tokenise(tokenizer, e, seq_len=config.seq_len)
            data.append({"input_ids": t.input_ids, "labels": t.labels, "attention_mask": [1] * len(t.input_ids)})
        base_collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
        batch_tokens: list[int] = []

        def collate(features: list[dict[str, Any]]) -> dict[str, Any]:
            batch = base_collator(features)
            batch_tokens.append(int(batch["attention_mask"].sum()))
            return batch

        began: dict[str, float] = {}

        class Clock(TrainerCallback):  # type: ignore[misc]
            def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
                began.update(wall=time.perf_counter(), cpu=time.process_time())

        steps = config.steps or 1
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=batch_size, max_steps=steps,
            learning_rate=config.learning_rate, lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0,
            max_grad_norm=1.0, seed=config.seed, data_seed=config.seed, report_to=[], save_strategy="no",
            logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0, use_cpu=True,
            remove_unused_columns=False,
        )
        trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=collate, callbacks=[Clock()])
        trainer.train()
        seconds, cpu_seconds = time.perf_counter() - began["wall"], time.process_time() - began["cpu"]
    return run_record(sum(batch_tokens[:steps]), seconds, cpu_seconds, load_before)


def measure_throughput(model_dir: Path, steps: int, rounds: int) -> dict[str, Any]:
    examples = bench_examples(300)
    config = TrainingConfig(steps=steps, batch_size=8, seq_len=256, rank=8, alpha=16, learning_rate=2e-3, seed=0)
    hf_batch = max(1, round(examples_per_row(model_dir, examples, config) * config.batch_size))
    warm = config.model_copy(update={"steps": 3})
    run_ours(model_dir, examples, warm)  # warm-up of both: imports, allocator, kernels
    run_hf_trainer(model_dir, examples, warm, hf_batch)
    ours, hf = [], []
    for _ in range(rounds):
        ours.append(run_ours(model_dir, examples, config))
        hf.append(run_hf_trainer(model_dir, examples, config, hf_batch))
    wall_ratios = [o["tokens_per_s"] / h["tokens_per_s"] for o, h in zip(ours, hf, strict=True)]
    cpu_ratios = [o["tokens_per_cpu_s"] / h["tokens_per_cpu_s"] for o, h in zip(ours, hf, strict=True)]
    return {"tokens_per_s_ratio_vs_hf_trainer": round(statistics.median(wall_ratios), 3),
            "tokens_per_cpu_s_ratio_vs_hf_trainer": round(statistics.median(cpu_ratios), 3),
            "round_ratios": {"wall": [round(r, 3) for r in wall_ratios], "cpu": [round(r, 3) for r in cpu_ratios]},
            "ours_tokens_per_s": statistics.median(r["tokens_per_s"] for r in ours),
            "hf_trainer_tokens_per_s": statistics.median(r["tokens_per_s"] for r in hf),
            "ours_tokens_per_cpu_s": statistics.median(r["tokens_per_cpu_s"] for r in ours),
            "hf_trainer_tokens_per_cpu_s": statistics.median(r["tokens_per_cpu_s"] for r in hf),
            "ours_runs": ours, "hf_trainer_runs": hf,
            "throughput_params": {"steps": steps, "rounds": rounds, "order": "ours, baseline per round; both warmed",
                                  "train_examples": len(examples), "ours_batch_rows": config.batch_size,
                                  "hf_batch_examples": hf_batch, "seq_len": config.seq_len, "rank": config.rank,
                                  "threads": THREADS, "omp_wait_policy": os.environ["OMP_WAIT_POLICY"]}}


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    busy = user + nice + system + irq + softirq + steal
    return busy / tick, (busy + idle + iowait) / tick


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system, with its waited-for children) of a process; 0 when it is gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_load: float, wait_s: float) -> dict[str, Any]:
    """Wait (up to `wait_s`) for the 1-minute load average to fall below `max_load`."""
    began = time.monotonic()
    while os.getloadavg()[0] >= max_load and time.monotonic() - began < wait_s:
        time.sleep(5)  # the load average itself moves on a 5-second tick
    return {"load_before": load_average(), "waited_s": round(time.monotonic() - began, 1),
            "load_below_threshold": os.getloadavg()[0] < max_load}


def measure_time_to_adapter(model_dir: Path, steps: int, max_load: float, quiet_wait_s: float,
                            max_foreign_share: float) -> dict[str, Any]:
    """One job through a real local stack; the share of wall time outside the training loop.

    How the job is known to have run with nothing else: before it, the load average must fall below
    `max_load`; during it, the CPU used by processes outside the stack and this bench (machine busy
    time from /proc/stat minus theirs) must stay under `max_foreign_share` of the machine.
    """
    import httpx
    from adaptloop_contracts import RetrainRequested, TopicNames
    from adaptloop_devstack.broker import free_ports
    from adaptloop_devstack.postgres import drop_database, ensure_database
    from adaptloop_devstack.stack import Stack, StackConfig

    home = Path(tempfile.mkdtemp(prefix="bench-trainer-", dir=var_dir()))
    database = f"adaptloop_bench_{uuid.uuid4().hex[:8]}"
    names = ("kafka", "inference", "ingest", "registry", "trainer", "drift")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    models_dir = home / "models"
    models_dir.mkdir()
    (models_dir / "tiny-llama").symlink_to(model_dir, target_is_directory=True)
    stack = Stack(StackConfig(home=home, ports=ports, database=database, models_dir=models_dir,
                              extra_env={"OTEL_SDK_DISABLED": "true", "ADAPTLOOP_TRAINER_CHECKPOINT_EVERY": "50"}))
    topics = TopicNames("")
    try:
        stack.up(services=("registry", "ingest", "trainer"))
        admin = {"Authorization": f"Bearer {stack.tokens.token('admin')}"}
        trainer = {"Authorization": f"Bearer {stack.tokens.token('trainer')}"}
        manifest = json.loads((model_dir / "manifest.json").read_text())
        registry, ingest = stack.config.url("registry"), stack.config.url("ingest")
        httpx.post(f"{registry}/v1/base-models", headers=admin, json={
            "name": "tiny-llama", "version": "1", "location": str(model_dir),
            "weights_sha256": manifest["weights_sha256"]}).raise_for_status()
        adapter = "bench-auto"
        httpx.post(f"{registry}/v1/adapters", headers=admin, json={
            "name": adapter, "base_model": "tiny-llama", "promotion_policy": {"mode": "auto"},
            "training_config": {"steps": steps, "batch_size": 8, "seq_len": 256, "rank": 8, "seed": 0}}
        ).raise_for_status()
        items = [{"adapter": adapter, "prompt": p.prompt, "answer": p.answer}
                 for p in generate_pairs("automotive", 300, seed=0)]
        httpx.post(f"{ingest}/v1/examples", headers=trainer, json=items, timeout=60).raise_for_status()

        consumer = new_consumer(stack.config.bootstrap, {"group.id": f"bench-{uuid.uuid4().hex}",
                             "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
                             "auto.offset.reset": "latest", "enable.auto.commit": False})
        consumer.subscribe([topics("registry.events")])
        deadline = time.monotonic() + 30
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(0.2)
        request = RetrainRequested(model=adapter, reason="manual", requested_by="bench")
        producer = new_producer(stack.config.bootstrap)
        quiet = wait_for_quiet(max_load, quiet_wait_s)
        pids = [stack.pid_of(name) for name in ("broker", "registry", "ingest", "trainer")] + [os.getpid()]
        cpu_before, ours_before = machine_cpu(), sum(process_cpu(pid) for pid in pids)
        trainer_before = process_cpu(stack.pid_of("trainer"))
        started = time.perf_counter()
        producer.produce(topics("retrain.requested"), request.to_json_bytes(), key=adapter.encode())
        producer.flush(10)
        registered_at = None
        deadline = time.monotonic() + 900
        while registered_at is None and time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is not None and not msg.error():
                event = json.loads(msg.value())
                if event.get("event_type") == "adapter.version_registered" and event.get("model") == adapter:
                    registered_at = time.perf_counter()
        (busy, total), ours_cpu = machine_cpu(), sum(process_cpu(pid) for pid in pids) - ours_before
        trainer_cpu = process_cpu(stack.pid_of("trainer")) - trainer_before
        busy, total = busy - cpu_before[0], total - cpu_before[1]
        consumer.close()
        if registered_at is None:
            raise RuntimeError("no adapter.version_registered within 900 s")
        jobs = httpx.get(f"{stack.config.url('trainer')}/v1/jobs", params={"adapter": adapter}).json()["jobs"]
        job = next((j for j in jobs if j["request_id"] == str(request.event_id)), None)
        timings = ((job or {}).get("metrics") or {}).get("timings")
        if job is None or not timings:
            raise RuntimeError(f"the request's job has no timings: {job and (job['state'], job['error'])}; "
                               f"jobs {[(j['request_id'], j['state']) for j in jobs]}")
        train_s = timings["train_loop_s"]
        foreign_share = max(0.0, busy - ours_cpu) / total if total > 0 else 0.0
        machine_load = {**quiet, "load_after": load_average(), "max_load": max_load,
                        "machine_busy_share": round(busy / total, 3) if total > 0 else None,
                        "trainer_cpu_share": round(trainer_cpu / total, 3) if total > 0 else None,
                        "foreign_cpu_share": round(foreign_share, 3), "max_foreign_cpu_share": max_foreign_share}
        elapsed = registered_at - started
        return {"non_training_share": round(1 - train_s / elapsed, 4), "time_to_adapter_s": round(elapsed, 3),
                "train_loop_s": train_s, "job_timings": timings,
                "outside_job_phases_s": round(elapsed - sum(timings.values()), 3),
                "stack_steps": steps,
                "job_state": job["state"],
                "job_quiet": quiet["load_below_threshold"] and foreign_share <= max_foreign_share,
                "job_machine": machine_load}
    finally:
        stack.down()
        with contextlib.suppress(Exception):  # a leftover bench database is harmless
            drop_database(ensure_database(database))
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30, help="training steps of each throughput run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (ours, baseline), at least 3")
    parser.add_argument("--skip-job", action="store_true", help="throughput only: no end-to-end job on a stack")
    parser.add_argument("--stack-steps", type=int, default=150, help="training steps of the end-to-end job")
    parser.add_argument("--max-load", type=float, default=0.5 * (os.cpu_count() or 1),
                        help="the job waits for the 1-minute load average to fall below this")
    parser.add_argument("--quiet-wait-s", type=float, default=180.0, help="how long the job waits for that")
    parser.add_argument("--max-foreign-cpu-share", type=float, default=0.1,
                        help="share of the machine's CPU that others may use during the job for it to count as quiet")
    parser.add_argument("--out", type=Path, default=repo_root() / "bench" / "results" / "trainer.json")
    args = parser.parse_args()
    model_dir = ensure_tiny_model(var_dir() / "models" / "tiny-llama")
    began = time.monotonic()
    import torch

    result: dict[str, Any] = {"name": "trainer",
                              **run_stamp(OUTSIDE_RESULTS, torch=torch.__version__, torch_threads=THREADS)}
    result.update(measure_throughput(model_dir, args.steps, max(1, args.rounds)))
    if not args.skip_job:
        if OMP_POLICY_SET_HERE:
            del os.environ["OMP_WAIT_POLICY"]  # torch has read it; the stack's trainer runs as it would
        result.update(measure_time_to_adapter(model_dir, args.stack_steps, args.max_load, args.quiet_wait_s,
                                              args.max_foreign_cpu_share))
    result["load_average_at_end"] = load_average()
    result["targets"] = {"tokens_per_s_ratio_vs_hf_trainer": ">= 1.3 (aim 1.5), median of interleaved rounds",
                         "non_training_share": "<= 0.2, from a quiet job (job_quiet: true)"}
    result["bench_seconds"] = round(time.monotonic() - began, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result.get(k) for k in ("tokens_per_s_ratio_vs_hf_trainer",
                                                 "tokens_per_cpu_s_ratio_vs_hf_trainer", "round_ratios",
                                                 "non_training_share", "job_quiet", "time_to_adapter_s",
                                                 "bench_seconds")}))


if __name__ == "__main__":
    main()
