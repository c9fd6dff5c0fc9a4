"""The LoRA training loop: packed rows, answer-only loss, checkpoints, cancellation, NaN detection.

For a given base model, snapshot, configuration and thread count the adapter's bytes are the
same on every run, including a run that was killed and resumed from a checkpoint: the batch
schedule is fixed up front by the seed and the RNG state travels in the checkpoint.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptloop_trainer.candidate_evaluation import AdapterFiles
from adaptloop_trainer.errors import JobCancelled, TrainingFailed
from adaptloop_trainer.lean_forward import LeanForward
from adaptloop_trainer.packing import IGNORE, batch_schedule, pack, tokenise
from adaptloop_trainer.snapshot import Example
from adaptloop_trainer.torch_runtime import deterministic, device, load_base
from adaptloop_trainer.training_config import TrainingConfig

log = logging.getLogger(__name__)
ProgressFn = Callable[[int, int, float], None]
"""(step, total_steps, loss) after each step."""
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainedAdapter:
    weights: bytes
    config: bytes
    steps: int
    final_loss: float
    tokens_trained: int
    train_seconds: float
    resumed_from_step: int
    losses: list[float] = field(default_factory=list)
    train_cpu_seconds: float = 0.0
    """CPU time of the process (all its threads) during the training loop, next to `train_seconds` (wall)."""
    load_seconds: float = 0.0
    """Before the loop: the base model loaded, the examples tokenised and packed, LoRA and optimiser set up."""
    save_seconds: float = 0.0
    """After the loop: the adapter serialised (safetensors and its config)."""


def lora_config(config: TrainingConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM",
    )


def total_steps(config: TrainingConfig, n_rows: int, *, warm_start: bool = False) -> int:
    """The step budget: `incremental_steps` for a warm-started run when set, else `steps`, else epochs."""
    if warm_start and config.incremental_steps is not None:
        return config.incremental_steps
    if config.steps is not None:
        return config.steps
    assert config.epochs is not None
    return max(1, math.ceil(config.epochs * n_rows / config.batch_size))


def _learning_rate(config: TrainingConfig, step: int, steps: int) -> float:
    """Linear warm-up, then linear decay to a tenth of the peak."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    span = max(1, steps - config.warmup_steps)
    return config.learning_rate * (1.0 - 0.9 * (step - config.warmup_steps) / span)


SEGMENT_ATTENTION = "adaptloop_segments"
"""The attention implementation of a training step: each packed example attends only to itself."""


@dataclass(frozen=True)
class Segments:
    """Where the examples of a flattened batch lie: a `[1, tokens]` sequence of examples back to back.

    `gather` lays the tokens out as `count` examples of `width` positions (the longest example;
    shorter ones are filled with whatever follows them, which only their own filler positions
    can see under the causal mask), `scatter` takes every token back from that layout.
    """

    gather: Any
    scatter: Any
    count: int
    width: int


def segments_of(positions: Any) -> Segments:
    """The segments of a flat `[tokens]` position tensor whose positions restart at 0 at every example."""
    import torch

    tokens = positions.shape[0]
    starts = positions.eq(0).nonzero().squeeze(1)
    lengths = torch.diff(starts, append=starts.new_tensor([tokens]))
    width = int(lengths.max())
    offsets = torch.arange(width, device=positions.device)
    gather = (starts[:, None] + offsets[None, :]).clamp_(max=tokens - 1).reshape(-1)
    scatter = (positions.eq(0).cumsum(0) - 1) * width + positions
    return Segments(gather, scatter, int(starts.shape[0]), width)


def segment_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                      dropout: float = 0.0, scaling: float | None = None, **kwargs: Any) -> tuple[Any, None]:
    """Causal attention within each example of a flattened batch (transformers' attention interface).

    The batch is one sequence of examples without padding; attention runs on the examples laid
    side by side (`Segments`), so its cost is that of each example's own length, not of the row's.
    Without `segments` (any call outside a training step) it is transformers' SDPA attention.
    """
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    segments: Segments | None = kwargs.pop("segments", None)
    if segments is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    heads, kv_heads = query.shape[1], key.shape[1]
    if kv_heads != heads:
        key = key.repeat_interleave(heads // kv_heads, dim=1)
        value = value.repeat_interleave(heads // kv_heads, dim=1)

    def lay_out(x: Any) -> Any:  # [1, heads, tokens, dim] -> [examples, heads, width, dim]
        return x[0].index_select(1, segments.gather).view(
            x.shape[1], segments.count, segments.width, x.shape[3]).transpose(0, 1)

    out = torch.nn.functional.scaled_dot_product_attention(
        lay_out(query), lay_out(key), lay_out(value), dropout_p=dropout, scale=scaling, is_causal=True)
    out = out.transpose(1, 2).reshape(segments.count * segments.width, heads, -1)
    return out.index_select(0, segments.scatter).unsqueeze(0), None


def _register_segment_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(SEGMENT_ATTENTION, segment_attention)


def _causal_lm_parts(model: Any) -> tuple[Any, Any, Any]:
    """(the causal LM, its body without the head, its output head); body/head None when not split that way."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    body, head = getattr(causal_lm, "base_model", None), causal_lm.get_output_embeddings()
    if body is None or body is causal_lm or head is None:
        return causal_lm, None, None
    return causal_lm, body, head


def uses_segment_attention(model: Any) -> bool:
    """Switch a model that takes transformers' pluggable attention to `segment_attention`; False if it cannot."""
    causal_lm, body, _ = _causal_lm_parts(model)
    if body is None or not getattr(causal_lm, "_supports_attention_backend", False):
        return False
    _register_segment_attention()
    causal_lm.config._attn_implementation = SEGMENT_ATTENTION
    return True


def answer_loss(model: Any, ids: Any, positions: Any, labels: Any, segments: Segments | None = None) -> Any:
    """Mean cross-entropy over answer tokens; the vocabulary projection runs on those positions only.

    Prompt and padding positions never reach the output layer, which saves its cost (and the
    softmax over the vocabulary) for roughly half of every row. With `segments`, `ids` is one
    flattened sequence of examples (`[1, tokens]`) and attention stays within each of them.
    """
    import torch

    _, body, head = _causal_lm_parts(model)
    if body is None:
        return model(input_ids=ids, position_ids=positions, labels=labels, use_cache=False).loss
    extra = {"segments": segments} if segments is not None else {}
    hidden = body(input_ids=ids, position_ids=positions, use_cache=False, **extra).last_hidden_state[:, :-1]
    targets = labels[:, 1:].reshape(-1)
    # index_select, not boolean masking: its backward stays fast with deterministic algorithms on.
    keep = targets.ne(IGNORE).nonzero().squeeze(1)
    logits = head(hidden.reshape(-1, hidden.shape[-1]).index_select(0, keep))
    return torch.nn.functional.cross_entropy(logits.float(), targets.index_select(0, keep))


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="checkpoint-", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        torch.save(state, handle)
    os.replace(tmp, path)


def _load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint's tensors and plain values, or None (start afresh) when it is missing or refused.

    `weights_only=True`: the unpickler builds only tensors and plain containers, so a file that
    names any other object (tampered with, or not ours) is refused instead of running code.
    """
    import torch

    if not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        log.warning("checkpoint %s refused, training starts from step 0: %s", path, str(exc).splitlines()[0])
        return None
    return state if isinstance(state, dict) else None


def _adapter_bytes(model: Any) -> tuple[bytes, bytes]:
    with tempfile.TemporaryDirectory(prefix="adapter-") as out:
        model.save_pretrained(out, save_embedding_layers=False)
        return (Path(out, "adapter_model.safetensors").read_bytes(), Path(out, "adapter_config.json").read_bytes())


def load_initial_adapter(model: Any, initial: AdapterFiles) -> None:
    """Put a parent adapter's LoRA weights into a fresh peft model of the same shape (rank, modules)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load as load_safetensors

    try:
        state = load_safetensors(initial.weights)
        result: Any = set_peft_model_state_dict(model, state)
    except (RuntimeError, ValueError) as exc:
        raise TrainingFailed(f"the parent adapter does not fit this LoRA configuration: {exc}") from exc
    missing = [k for k in result.missing_keys if "lora_" in k]
    if result.unexpected_keys or missing:
        raise TrainingFailed(f"the parent adapter does not fit this LoRA configuration: "
                             f"unexpected {list(result.unexpected_keys)[:3]}, missing {missing[:3]}")


def train_lora(
    *,
    base_dir: Path,
    base_model_name: str,
    train: Sequence[Example],
    config: TrainingConfig,
    checkpoint_dir: Path,
    threads: int,
    checkpoint_every: int,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    init_adapter: AdapterFiles | None = None,
) -> TrainedAdapter:
    """Train a LoRA adapter; resumes from `checkpoint_dir` when a checkpoint of this run is there.

    `init_adapter` warm-starts from a parent's weights (same rank, alpha and target modules as
    `config`) instead of a fresh LoRA; the optimiser and schedule start afresh either way.
    """
    entered = time.perf_counter()  # before the imports: a job that has to import them counts it in `load_seconds`
    import torch
    from peft import get_peft_model, set_peft_model_state_dict
    from peft.utils import get_peft_model_state_dict

    with deterministic(config.seed, threads, fill_uninitialized_memory=False):
        model, tokenizer = load_base(base_dir)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        rows = pack([tokenise(tokenizer, e, seq_len=config.seq_len) for e in train],
                    seq_len=config.seq_len, pad_id=pad_id)
        steps = total_steps(config, len(rows), warm_start=init_adapter is not None)
        schedule = batch_schedule(len(rows), batch_size=config.batch_size, steps=steps, seed=config.seed)
        ids = torch.tensor([r.input_ids for r in rows], dtype=torch.long, device=device())
        labels = torch.tensor([r.labels for r in rows], dtype=torch.long, device=device())
        positions = torch.tensor([r.position_ids for r in rows], dtype=torch.long, device=device())
        real_tokens = [r.real_tokens for r in rows]
        # Packing leaves padding only at the end of a row; a flattened batch leaves it out.
        real = (torch.arange(ids.shape[1], device=device())[None, :]
                < torch.tensor(real_tokens, device=device())[:, None])
        model = get_peft_model(model, lora_config(config))
        # The lean forward where it covers the model (a Llama with plain LoRA), else transformers' and
        # peft's modules with attention within each example where the model takes it, else masked rows.
        lean = LeanForward.of(model, max_positions=ids.shape[1])
        flat = lean is not None or uses_segment_attention(model)
        # The saved adapter names its base by registry name, not by this machine's path.
        model.peft_config["default"].base_model_name_or_path = base_model_name
        if init_adapter is not None:
            load_initial_adapter(model, init_adapter)
        params = [p for p in model.parameters() if p.requires_grad]
        # fused: one kernel for all LoRA tensors (on the CPU, foreach runs tensor by tensor)
        optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay, fused=True)
        ckpt_path = checkpoint_dir / CHECKPOINT
        start, losses, tokens = 0, [], 0
        parent = hashlib.sha256(init_adapter.weights).hexdigest() if init_adapter is not None else "none"
        fingerprint = f"{config.digest()}:{len(rows)}:{int(ids.sum())}:{parent}"
        state = _load_checkpoint(ckpt_path)
        if state is not None and state.get("fingerprint") == fingerprint:
            set_peft_model_state_dict(model, state["lora"])
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"])
            start, losses, tokens = state["step"], list(state["losses"]), state["tokens"]
        model.train()
        began, began_cpu = time.perf_counter(), time.process_time()
        for step in range(start, steps):
            if should_stop():
                raise JobCancelled(f"cancelled at step {step} of {steps}")
            batch = schedule[step]
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(config, step, steps)
            try:
                if flat:
                    keep = real[batch]
                    step_ids, step_labels = ids[batch][keep], labels[batch][keep]
                    step_positions = positions[batch][keep]
                    segments = segments_of(step_positions)
                    loss = (lean.loss(step_ids, step_positions, step_labels, segments, IGNORE) if lean is not None
                            else answer_loss(model, step_ids[None], step_positions[None], step_labels[None], segments))
                else:
                    loss = answer_loss(model, ids[batch], positions[batch], labels[batch])
                if not torch.isfinite(loss):
                    raise TrainingFailed(f"loss became {loss.item()} at step {step + 1} of {steps}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
            except (torch.OutOfMemoryError, MemoryError) as exc:
                raise TrainingFailed(f"out of memory at step {step + 1}: {exc}") from exc
            losses.append(round(float(loss.item()), 6))
            tokens += sum(real_tokens[i] for i in batch)
            if on_progress is not None:
                on_progress(step + 1, steps, losses[-1])
            if (step + 1) % checkpoint_every == 0 and step + 1 < steps:
                _save_checkpoint(ckpt_path, {
                    "fingerprint": fingerprint, "step": step + 1, "losses": losses, "tokens": tokens,
                    "lora": get_peft_model_state_dict(model, save_embedding_layers=False),
                    "optimizer": optimizer.state_dict(),
                    "rng": torch.get_rng_state(),
                })
        ended = time.perf_counter()
        elapsed, elapsed_cpu = ended - began, time.process_time() - began_cpu
        model.eval()
        weights, config_bytes = _adapter_bytes(model)
    return TrainedAdapter(weights, config_bytes, steps, losses[-1] if losses else float("nan"), tokens,
                          elapsed, start, losses, elapsed_cpu, load_seconds=began - entered,
                          save_seconds=time.perf_counter() - ended)
