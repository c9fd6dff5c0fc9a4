"""The evaluation gate: candidate vs production (or the base model) on three checks.

(a) held-out split of the new snapshot, (b) the adapter's pinned regression set, (c) greedy
outputs on held-out prompts must differ from the base model's (a no-op adapter fails).
Losses are negative log-likelihood of the answer per answer character, so models on
different base models (and tokenizers) compare fairly; per-token losses are reported too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adaptloop_trainer.packing import IGNORE, pack, prompt_text, tokenise
from adaptloop_trainer.snapshot import Example
from adaptloop_trainer.training_config import GateThresholds

EVAL_SEQ_LEN = 512
EVAL_BATCH = 8


@dataclass(frozen=True)
class LossStats:
    nll: float
    tokens: int
    chars: int

    @property
    def per_token(self) -> float:
        return self.nll / self.tokens if self.tokens else float("nan")

    @property
    def per_char(self) -> float:
        return self.nll / self.chars if self.chars else float("nan")


@dataclass(frozen=True)
class GateResult:
    passed: bool
    verdict: str
    metrics: dict[str, Any]


def answer_loss(model: Any, tokenizer: Any, examples: Sequence[Example]) -> LossStats:
    """Summed answer NLL over packed rows (loss on the answer tokens only, like training)."""
    import torch

    if not examples:
        return LossStats(0.0, 0, 0)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    tokenised = [tokenise(tokenizer, e, seq_len=EVAL_SEQ_LEN) for e in examples]
    rows = pack(tokenised, seq_len=EVAL_SEQ_LEN, pad_id=pad_id)
    nll, tokens = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(rows), EVAL_BATCH):
            chunk = rows[i:i + EVAL_BATCH]
            ids = torch.tensor([r.input_ids for r in chunk], device=model.device)
            labels = torch.tensor([r.labels for r in chunk], device=model.device)
            positions = torch.tensor([r.position_ids for r in chunk], device=model.device)
            logits = model(input_ids=ids, position_ids=positions, use_cache=False).logits.float()
            shift_logits, shift_labels = logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1)
            nll += float(torch.nn.functional.cross_entropy(shift_logits, shift_labels, ignore_index=IGNORE,
                                                           reduction="sum"))
            tokens += int(shift_labels.ne(IGNORE).sum())
    return LossStats(nll, tokens, sum(len(e.answer) + 1 for e in examples))


def greedy_outputs(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int) -> list[str]:
    """Greedy completions of all prompts in one left-padded batch."""
    import torch

    if not prompts:
        return []
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        batch = tokenizer([prompt_text(tokenizer, p) for p in prompts], add_special_tokens=False, padding=True,
                          return_tensors="pt").to(model.device)
    finally:
        tokenizer.padding_side = side
    with torch.inference_mode():
        generated = model.generate(**batch, do_sample=False, max_new_tokens=max_new_tokens, use_cache=True,
                                   pad_token_id=tokenizer.pad_token_id)
    width = batch["input_ids"].shape[1]
    return [tokenizer.decode(row[width:], skip_special_tokens=True) for row in generated]


def _relative(candidate: float, baseline: float) -> float:
    return (candidate - baseline) / baseline if baseline else 0.0


def decide(
    *,
    heldout_candidate: LossStats,
    heldout_baseline: LossStats,
    regression_candidate: LossStats,
    regression_baseline: LossStats,
    changed_share: float,
    baseline_name: str,
    thresholds: GateThresholds,
    heldout_tolerance: float = 0.0,
) -> GateResult:
    """Apply the adapter's thresholds; the verdict names every failed check.

    `heldout_tolerance` relaxes check (a) for base-model upgrades, whose aim is to keep
    the adapter's quality, not to improve on it.
    """
    metrics: dict[str, Any] = {
        "baseline": baseline_name,
        "heldout_loss": round(heldout_candidate.per_char, 6),
        "heldout_loss_baseline": round(heldout_baseline.per_char, 6),
        "heldout_token_loss": round(heldout_candidate.per_token, 6),
        "heldout_token_loss_baseline": round(heldout_baseline.per_token, 6),
        "heldout_examples_tokens": heldout_candidate.tokens,
        "changed_outputs_share": round(changed_share, 4),
    }
    failures: list[str] = []
    limit = heldout_baseline.per_char * (1.0 - thresholds.min_heldout_improvement + heldout_tolerance)
    if not heldout_candidate.per_char <= limit:
        failures.append(f"held-out loss {heldout_candidate.per_char:.4f} not below {limit:.4f} ({baseline_name})")
    if regression_candidate.tokens:
        metrics["regression_loss"] = round(regression_candidate.per_char, 6)
        metrics["regression_loss_baseline"] = round(regression_baseline.per_char, 6)
        metrics["regression_tokens"] = regression_candidate.tokens
        cap = regression_baseline.per_char * (1.0 + thresholds.max_regression_increase)
        if not regression_candidate.per_char <= cap:
            failures.append(f"regression-set loss {regression_candidate.per_char:.4f} above {cap:.4f} "
                            f"({baseline_name} {regression_baseline.per_char:.4f})")
    if changed_share < thresholds.min_changed_outputs:
        failures.append(f"only {changed_share:.0%} of greedy outputs differ from the base model "
                        f"(need {thresholds.min_changed_outputs:.0%}): the adapter changes too little")
    metrics["heldout_improvement"] = round(-_relative(heldout_candidate.per_char, heldout_baseline.per_char), 6)
    verdict = "passed: " + f"held-out loss {heldout_candidate.per_char:.4f} vs {baseline_name} " \
        f"{heldout_baseline.per_char:.4f}" if not failures else "failed: " + "; ".join(failures)
    return GateResult(not failures, verdict, metrics)
