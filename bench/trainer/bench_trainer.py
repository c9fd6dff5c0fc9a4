"""Trainer benchmark -> bench/results/trainer.json.

1. `tokens_per_s_ratio_vs_hf_trainer`: this service's training loop (packed rows, answer-only
   loss) vs a plain `transformers.Trainer` + peft script (padded batches, same loss) on the same
   tiny model, examples, steps, seed, LoRA settings and thread count, measured in the same run.
   Both see the same examples per step; tokens are real (non-padding) tokens; rounds alternate.
2. `non_training_share`: on a local stack (broker, registry, ingest, trainer on free ports), the
   share of the time from publishing `retrain.requested` to reading `adapter.version_registered`
   on `registry.events` that is spent outside the training loop (`train_loop_s` of the job).

Run: var/venv/model/bin/python bench/trainer/bench_trainer.py [--steps N] [--rounds R]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adaptloop_devstack.paths import repo_root, var_dir
from adaptloop_kafka import GROUP_SESSION_TIMEOUT_MS, new_consumer, new_producer
from adaptloop_scenarios.corpus import generate_pairs
from adaptloop_scenarios.tiny_model import ensure_tiny_model
from adaptloop_trainer.packing import pack, tokenise
from adaptloop_trainer.snapshot import Example, snapshot_from_export
from adaptloop_trainer.torch_runtime import deterministic, load_base
from adaptloop_trainer.training_config import TrainingConfig
from adaptloop_trainer.training_loop import lora_config, train_lora

THREADS = 2


def bench_examples(n: int) -> list[Example]:
    pairs = generate_pairs("automotive", n, seed=0)
    return snapshot_from_export({"prompt": p.prompt, "target": p.answer} for p in pairs).train


def run_ours(model_dir: Path, examples: list[Example], config: TrainingConfig) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as ckpt:
        result = train_lora(base_dir=model_dir, base_model_name="tiny-llama", train=examples, config=config,
                            checkpoint_dir=Path(ckpt), threads=THREADS, checkpoint_every=10**9)
    return {"tokens": result.tokens_trained, "seconds": result.train_seconds,
            "tokens_per_s": result.tokens_trained / result.train_seconds, "final_loss": result.final_loss}


def examples_per_row(model_dir: Path, examples: list[Example], config: TrainingConfig) -> float:
    _, tokenizer = load_base(model_dir)
    rows = pack([tokenise(tokenizer, e, seq_len=config.seq_len) for e in examples], seq_len=config.seq_len,
                pad_id=tokenizer.pad_token_id)
    return len(examples) / len(rows)


def run_hf_trainer(
    model_dir: Path, examples: list[Example], config: TrainingConfig, batch_size: int
) -> dict[str, float]:
    """The plain recipe: peft model, padded batches by DataCollatorForSeq2Seq, transformers.Trainer."""
    from peft import get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    with deterministic(config.seed, THREADS), tempfile.TemporaryDirectory() as out:
        model, tokenizer = load_base(model_dir)
        model = get_peft_model(model, lora_config(config))
        data = []
        for e in examples:
            t = tokenise(tokenizer, e, seq_len=config.seq_len)
            data.append({"input_ids": t.input_ids, "labels": t.labels, "attention_mask": [1] * len(t.input_ids)})
        base_collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
        seen = {"tokens": 0}

        def collate(features: list[dict[str, Any]]) -> dict[str, Any]:
            batch = base_collator(features)
            seen["tokens"] += int(batch["attention_mask"].sum())
            return batch

        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=batch_size, max_steps=config.steps or 1,
            learning_rate=config.learning_rate, lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0,
            max_grad_norm=1.0, seed=config.seed, data_seed=config.seed, report_to=[], save_strategy="no",
            logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0, use_cpu=True,
            remove_unused_columns=False,
        )
        trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=collate)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    return {"tokens": seen["tokens"], "seconds": seconds, "tokens_per_s": seen["tokens"] / seconds}


def measure_throughput(model_dir: Path, steps: int, rounds: int) -> dict[str, Any]:
    examples = bench_examples(300)
    config = TrainingConfig(steps=steps, batch_size=8, seq_len=256, rank=8, alpha=16, learning_rate=2e-3, seed=0)
    hf_batch = max(1, round(examples_per_row(model_dir, examples, config) * config.batch_size))
    ours, hf = [], []
    run_ours(model_dir, examples, config.model_copy(update={"steps": 2}))  # warm-up (imports, allocator)
    for _ in range(rounds):
        hf.append(run_hf_trainer(model_dir, examples, config, hf_batch))
        ours.append(run_ours(model_dir, examples, config))
    ours_tps = statistics.median(r["tokens_per_s"] for r in ours)
    hf_tps = statistics.median(r["tokens_per_s"] for r in hf)
    return {"tokens_per_s_ratio_vs_hf_trainer": round(ours_tps / hf_tps, 3),
            "ours_tokens_per_s": round(ours_tps, 1), "hf_trainer_tokens_per_s": round(hf_tps, 1),
            "ours_runs": ours, "hf_trainer_runs": hf,
            "throughput_params": {"steps": steps, "rounds": rounds, "train_examples": len(examples),
                                  "ours_batch_rows": config.batch_size, "hf_batch_examples": hf_batch,
                                  "seq_len": config.seq_len, "rank": config.rank, "threads": THREADS}}


def measure_time_to_adapter(model_dir: Path, steps: int) -> dict[str, Any]:
    """One job through a real local stack; the share of wall time outside the training loop."""
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
        consumer.close()
        if registered_at is None:
            raise RuntimeError("no adapter.version_registered within 900 s")
        total = registered_at - started
        jobs = httpx.get(f"{stack.config.url('trainer')}/v1/jobs", params={"adapter": adapter}).json()["jobs"]
        timings = jobs[0]["metrics"]["timings"]
        train_s = timings["train_loop_s"]
        return {"non_training_share": round(1 - train_s / total, 4), "time_to_adapter_s": round(total, 3),
                "train_loop_s": train_s, "job_timings": timings, "stack_steps": steps,
                "job_state": jobs[0]["state"]}
    finally:
        stack.down()
        with contextlib.suppress(Exception):  # a leftover bench database is harmless
            drop_database(ensure_database(database))
        shutil.rmtree(home, ignore_errors=True)


def machine() -> dict[str, Any]:
    import torch

    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "torch_threads": THREADS,
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30, help="training steps of each throughput run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--stack-steps", type=int, default=150, help="training steps of the end-to-end job")
    parser.add_argument("--out", type=Path, default=repo_root() / "bench" / "results" / "trainer.json")
    args = parser.parse_args()
    model_dir = ensure_tiny_model(var_dir() / "models" / "tiny-llama")
    began = time.monotonic()
    result: dict[str, Any] = {"name": "trainer", "date": datetime.now(UTC).isoformat(), "machine": machine()}
    result.update(measure_throughput(model_dir, args.steps, args.rounds))
    result.update(measure_time_to_adapter(model_dir, args.stack_steps))
    result["targets"] = {"tokens_per_s_ratio_vs_hf_trainer": ">= 1.0 (aim 1.5)", "non_training_share": "<= 0.2"}
    result["bench_seconds"] = round(time.monotonic() - began, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("tokens_per_s_ratio_vs_hf_trainer", "non_training_share",
                                             "time_to_adapter_s", "bench_seconds")}))


if __name__ == "__main__":
    main()
