"""Build a tiny Llama model locally and deterministically, servable by vLLM on CPU.

A byte-level BPE tokenizer and a ``LlamaForCausalLM`` of about a million parameters are
trained on the scenario corpus of all domains, briefly, so that greedy outputs
look like the corpus while a LoRA adapter can still improve a single domain.
The same seed gives byte-identical files. Needs the ``model`` extra.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptloop_scenarios.corpus import mixed_corpus
from adaptloop_scenarios.model_manifest import (
    ModelDirInvalid,
    verify_model_dir,
    write_manifest,
)
from adaptloop_scenarios.staged_dir import build_lock, staged_dir
from adaptloop_scenarios.tiny_tokenizer import pair_messages, render_chat, train_tokenizer

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

ProgressCallback = Callable[[int, int, float], None]
"""Called after each training step with (step, total_steps, loss)."""

DEFAULT_STEPS = 120
BUILD_THREADS = 2


@dataclass(frozen=True)
class TinyModelSpec:
    """Architecture and training hyper-parameters; head_dim is 64 (vLLM CPU needs >= 32)."""

    vocab_size: int = 1536
    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 4
    num_attention_heads: int = 2
    num_key_value_heads: int = 2
    max_position_embeddings: int = 256
    pairs_per_domain: int = 400
    batch_size: int = 16
    learning_rate: float = 3e-3
    warmup_steps: int = 20


@dataclass(frozen=True)
class BuildResult:
    """What a build produced and how long it took."""

    path: Path
    weights_sha256: str
    param_count: int
    final_loss: float
    seconds: float


@contextmanager
def _deterministic_torch(seed: int) -> Iterator[None]:
    """Seeded RNG, deterministic kernels and a fixed thread count; restored afterwards."""
    import torch

    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(BUILD_THREADS)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic)
            torch.set_num_threads(threads)


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No per-shard progress bars while saving; the caller reports progress."""
    from transformers.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()


def _new_model(spec: TinyModelSpec, tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        head_dim=spec.hidden_size // spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def _learning_rate(step: int, steps: int, spec: TinyModelSpec) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < spec.warmup_steps:
        return spec.learning_rate * (step + 1) / spec.warmup_steps
    progress = (step - spec.warmup_steps) / max(1, steps - spec.warmup_steps)
    return spec.learning_rate * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))


def _pretrain(
    model: LlamaForCausalLM,
    token_ids: list[list[int]],
    *,
    pad_id: int,
    steps: int,
    spec: TinyModelSpec,
    progress: ProgressCallback | None,
) -> float:
    """Causal-LM training on padded batches in a seeded order; mean loss of the last steps."""
    import torch

    order = torch.randperm(len(token_ids)).tolist()
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate, betas=(0.9, 0.95))
    model.train()
    recent: list[float] = []
    for step in range(steps):
        start = (step * spec.batch_size) % len(order)
        rows = [token_ids[order[(start + i) % len(order)]] for i in range(spec.batch_size)]
        width = max(len(row) for row in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask = ids.ne(pad_id)
        labels = ids.masked_fill(~mask, -100)
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, steps, spec)
        loss = model(input_ids=ids, attention_mask=mask.long(), labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        recent = [*recent, loss.item()][-10:]
        if progress is not None:
            progress(step + 1, steps, recent[-1])
    model.eval()
    return round(sum(recent) / len(recent), 6)


def _train_and_save(
    target: Path, *, seed: int, steps: int, spec: TinyModelSpec, progress: ProgressCallback | None
) -> tuple[int, float]:
    pairs = mixed_corpus(spec.pairs_per_domain, seed=seed)
    rendered = [render_chat(pair_messages(p), add_generation_prompt=False) for p in pairs]
    with _deterministic_torch(seed):
        tokenizer = train_tokenizer(rendered, vocab_size=spec.vocab_size)
        texts = [tokenizer.apply_chat_template(pair_messages(p), tokenize=False) for p in pairs]
        if texts[:1] != rendered[:1]:
            raise RuntimeError("chat template and render_chat disagree")
        token_ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        model = _new_model(spec, tokenizer)
        final_loss = _pretrain(
            model, token_ids, pad_id=tokenizer.pad_token_id, steps=steps, spec=spec,
            progress=progress,
        )
        param_count = sum(p.numel() for p in model.parameters())
        with _quiet_transformers():
            model.save_pretrained(target)
            tokenizer.save_pretrained(target)
    return param_count, final_loss


def build_tiny_model(
    out_dir: Path,
    *,
    seed: int = 0,
    steps: int = DEFAULT_STEPS,
    progress: ProgressCallback | None = None,
    spec: TinyModelSpec = TinyModelSpec(),
) -> BuildResult:
    """Build under a lock into a temporary sibling of ``out_dir``, then move it into place."""
    out_dir = Path(out_dir)
    with build_lock(out_dir):
        return _build_locked(out_dir, seed=seed, steps=steps, progress=progress, spec=spec)


def _build_locked(
    out_dir: Path, *, seed: int, steps: int, progress: ProgressCallback | None, spec: TinyModelSpec
) -> BuildResult:
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    started = time.monotonic()
    with staged_dir(out_dir) as work:
        param_count, final_loss = _train_and_save(
            work, seed=seed, steps=steps, spec=spec, progress=progress
        )
        build = {
            "seed": seed,
            "steps": steps,
            "param_count": param_count,
            "final_loss": final_loss,
            "spec": asdict(spec),
        }
        manifest = write_manifest(work, build)
    return BuildResult(
        path=out_dir,
        weights_sha256=manifest["weights_sha256"],
        param_count=param_count,
        final_loss=final_loss,
        seconds=round(time.monotonic() - started, 3),
    )


def existing_build(out_dir: Path, *, seed: int, steps: int) -> dict[str, Any] | None:
    """The manifest of a valid default-spec build of (seed, steps) in ``out_dir``, else None."""
    try:
        manifest = verify_model_dir(Path(out_dir))
    except ModelDirInvalid:
        return None
    wanted = {"seed": seed, "steps": steps, "spec": asdict(TinyModelSpec())}
    build = manifest.get("build", {})
    if any(build.get(key) != value for key, value in wanted.items()):
        return None
    return manifest


def ensure_tiny_model(
    out_dir: Path,
    seed: int = 0,
    *,
    steps: int = DEFAULT_STEPS,
    progress: ProgressCallback | None = None,
) -> Path:
    """Reuse a verified build in ``out_dir`` or build one; returns ``out_dir``."""
    out_dir = Path(out_dir)
    with build_lock(out_dir):
        if existing_build(out_dir, seed=seed, steps=steps) is None:
            _build_locked(out_dir, seed=seed, steps=steps, progress=progress, spec=TinyModelSpec())
    return out_dir


def main(argv: Sequence[str] | None = None) -> int:
    """Build (or reuse) the tiny model with a progress bar and print a one-line summary."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    parser = argparse.ArgumentParser(
        prog="python -m adaptloop_scenarios.tiny_model",
        description="Build the tiny Llama model used by adaptloop tests and demos.",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--force", action="store_true", help="rebuild even if a valid build exists")
    args = parser.parse_args(argv)
    console = Console(stderr=True)

    started = time.monotonic()
    reused = not args.force and existing_build(args.out, seed=args.seed, steps=args.steps)
    if not reused:
        columns = (
            TextColumn("pretraining"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"), TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("pretraining", total=args.steps, loss=float("nan"))

            def report(step: int, total: int, loss: float) -> None:
                bar.update(task, completed=step, loss=loss)

            if args.force:
                build_tiny_model(args.out, seed=args.seed, steps=args.steps, progress=report)
            else:
                ensure_tiny_model(args.out, args.seed, steps=args.steps, progress=report)
    manifest = verify_model_dir(args.out)
    build = manifest["build"]
    print(
        f"{'reused' if reused else 'built'} {args.out} weights_sha256={manifest['weights_sha256']} "
        f"params={build['param_count']} final_loss={build['final_loss']} "
        f"seconds={time.monotonic() - started:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
