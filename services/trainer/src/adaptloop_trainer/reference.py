"""Offline reference runs: train an adapter on a file of ideal answers, and rate adapters on held-out prompts.

What the adaptation benchmark and the demo need to say how close the loop gets: an *oracle*
adapter trained on the new domain's ideal answers with the loop's step budget, and one
evaluator (greedy answers rated by token-overlap F1 against the ideal answer, plus answer
token loss) applied alike to every version compared. Nothing here needs a running service.

    python -m adaptloop_trainer.reference --base-dir var/models/tiny-llama --set new=heldout.jsonl \\
        --adapter v1=adapters/v1 --train oracle-train.jsonl --config '{"steps": 100}' --out levels.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

from adaptloop_scenarios.rating import score

from adaptloop_trainer.candidate import sha256_hex
from adaptloop_trainer.candidate_evaluation import AdapterFiles
from adaptloop_trainer.evaluation import answer_loss, greedy_outputs
from adaptloop_trainer.snapshot import Example, example_key
from adaptloop_trainer.torch_runtime import deterministic, load_base
from adaptloop_trainer.training_config import TrainingConfig, resolve_training_config
from adaptloop_trainer.training_loop import TrainedAdapter, train_lora

MAX_NEW_TOKENS = 48
"""The answer budget the demo's users ask for."""
GENERATION_BATCH = 16


@dataclass(frozen=True)
class Quality:
    """One adapter on one prompt set: mean user rating, answer token loss and a few samples."""

    rating: float
    token_loss: float
    prompts: int
    samples: list[dict[str, str]] = field(default_factory=list)


def as_examples(pairs: Sequence[tuple[str, str]]) -> list[Example]:
    return [Example(prompt, answer, example_key(prompt, answer), "train") for prompt, answer in pairs]


def rate(
    base_dir: Path,
    adapter: AdapterFiles | None,
    pairs: Sequence[tuple[str, str]],
    *,
    threads: int = 2,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> Quality:
    """Greedy answers to every prompt, rated against its ideal answer; the bare base model when no adapter."""
    from peft import PeftModel

    with deterministic(0, threads), tempfile.TemporaryDirectory(prefix="reference-") as tmp:
        model, tokenizer = load_base(base_dir)
        model.eval()
        if adapter is not None:
            model = PeftModel.from_pretrained(model, adapter.write(Path(tmp, "adapter")))
            model.eval()
        prompts = [prompt for prompt, _ in pairs]
        outputs: list[str] = []
        for start in range(0, len(prompts), GENERATION_BATCH):
            outputs += greedy_outputs(model, tokenizer, prompts[start:start + GENERATION_BATCH],
                                      max_new_tokens=max_new_tokens)
        loss = answer_loss(model, tokenizer, as_examples(pairs))
    ratings = [score(out, ideal) for out, (_, ideal) in zip(outputs, pairs, strict=True)]
    samples = [{"prompt": p, "ideal": i, "answer": o} for (p, i), o in zip(pairs[:3], outputs[:3], strict=False)]
    return Quality(round(mean(ratings), 4) if ratings else float("nan"), round(loss.per_token, 4), len(pairs),
                   samples)


def train_reference(
    base_dir: Path,
    pairs: Sequence[tuple[str, str]],
    config: TrainingConfig,
    *,
    base_model_name: str = "reference",
    threads: int = 2,
) -> TrainedAdapter:
    """A fresh LoRA on the base model trained on `pairs` (all of them: a reference has no held-out split)."""
    with tempfile.TemporaryDirectory(prefix="reference-ckpt-") as ckpt:
        return train_lora(base_dir=base_dir, base_model_name=base_model_name, train=as_examples(pairs),
                          config=config, checkpoint_dir=Path(ckpt), threads=threads, checkpoint_every=10**9)


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row.get("prompt"), str) or not isinstance(row.get("answer"), str):
            raise ValueError(f"{path}:{number}: each line needs string fields 'prompt' and 'answer'")
        pairs.append((row["prompt"], row["answer"]))
    return pairs


def _named(values: Sequence[str], what: str) -> dict[str, Path]:
    named: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{what} {value!r} is not NAME=PATH")
        named[name] = Path(path)
    return named


def _load_adapter(directory: Path) -> AdapterFiles:
    return AdapterFiles((directory / "adapter_model.safetensors").read_bytes(),
                        (directory / "adapter_config.json").read_bytes())


def run_reference(
    base_dir: Path,
    sets: dict[str, Path],
    adapters: dict[str, Path],
    *,
    train: Path | None = None,
    config: dict[str, Any] | None = None,
    adapter_out: Path | None = None,
    threads: int = 2,
) -> dict[str, Any]:
    """Rate every adapter (and the reference trained from `train`, named `oracle`) on every prompt set."""
    started = time.perf_counter()
    result: dict[str, Any] = {"ratings": {}}
    files = {name: _load_adapter(path) for name, path in adapters.items()}
    if train is not None:
        ideal = _read_pairs(train)
        trained = train_reference(base_dir, ideal, resolve_training_config(config or {}), threads=threads)
        files["oracle"] = AdapterFiles(trained.weights, trained.config)
        if adapter_out is not None:
            files["oracle"].write(adapter_out)
        result["oracle_training"] = {"train_seconds": round(trained.train_seconds, 2), "steps": trained.steps,
                                     "examples": len(ideal),
                                     "weights_sha256": sha256_hex(trained.weights)}
    prompt_sets = {name: _read_pairs(path) for name, path in sets.items()}
    for name, adapter in files.items():
        result["ratings"][name] = {set_name: asdict(rate(base_dir, adapter, pairs, threads=threads))
                                   for set_name, pairs in prompt_sets.items()}
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adaptloop_trainer.reference", description=__doc__.split("\n")[0])
    parser.add_argument("--base-dir", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], required=True,
                        help="NAME=FILE: a prompt set, JSON lines with prompt and (ideal) answer; repeatable")
    parser.add_argument("--adapter", action="append", default=[], help="NAME=DIR: an adapter to rate; repeatable")
    parser.add_argument("--train", type=Path, help="JSON lines of ideal answers: train the reference `oracle` on them")
    parser.add_argument("--config", default="{}", help="the reference's training configuration as JSON")
    parser.add_argument("--adapter-out", type=Path, help="where to keep the trained reference's adapter files")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = run_reference(args.base_dir, _named(args.set, "--set"), _named(args.adapter, "--adapter"),
                           train=args.train, config=json.loads(args.config), adapter_out=args.adapter_out,
                           threads=args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({name: {k: v["rating"] for k, v in sets.items()} for name, sets in result["ratings"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
