"""Loads the candidate, the baseline (production adapter or base model) and runs the gate."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptloop_contracts.eval_suites import EvalSuiteItem, JudgeSettings

from adaptloop_trainer.evaluation import GateResult, LossStats, answer_loss, decide, greedy_outputs
from adaptloop_trainer.snapshot import Example
from adaptloop_trainer.suites import JudgeFn, LoadedSuite, apply_suites, score_suite
from adaptloop_trainer.torch_runtime import deterministic, load_base
from adaptloop_trainer.training_config import GateThresholds


@dataclass(frozen=True)
class AdapterFiles:
    weights: bytes
    config: bytes

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "adapter_model.safetensors").write_bytes(self.weights)
        (directory / "adapter_config.json").write_bytes(self.config)
        return directory


@dataclass(frozen=True)
class Baseline:
    """What the candidate must beat: a production adapter on its base, or a bare base model."""

    name: str
    base_dir: Path
    adapter: AdapterFiles | None = None


SUITE_BATCH = 16


def _no_judge(_settings: JudgeSettings, _item: EvalSuiteItem, _answer: str) -> float:
    raise RuntimeError("no judge is wired into this trainer")


def _suite_outputs(model: Any, tokenizer: Any, suites: Sequence[LoadedSuite]) -> list[list[str]]:
    """Greedy answers to every suite's prompts, in batches."""
    outputs = []
    for suite in suites:
        prompts, answers = suite.prompts, []
        for start in range(0, len(prompts), SUITE_BATCH):
            answers += greedy_outputs(model, tokenizer, prompts[start:start + SUITE_BATCH],
                                      max_new_tokens=suite.record.max_new_tokens)
        outputs.append(answers)
    return outputs


def _losses(
    model: Any, tokenizer: Any, heldout: Sequence[Example], regression: Sequence[Example]
) -> tuple[LossStats, LossStats]:
    return answer_loss(model, tokenizer, heldout), answer_loss(model, tokenizer, regression)


def evaluate_candidate(
    *,
    base_dir: Path,
    candidate: AdapterFiles,
    baseline: Baseline,
    heldout: Sequence[Example],
    regression: Sequence[Example],
    thresholds: GateThresholds,
    threads: int,
    heldout_tolerance: float = 0.0,
    suites: Sequence[LoadedSuite] = (),
    judge: JudgeFn | None = None,
) -> GateResult:
    """Losses, behaviour change, and every attached suite: candidate against the baseline."""
    from peft import PeftModel

    prompts = [e.prompt for e in heldout[: thresholds.behaviour_prompts]]
    with deterministic(0, threads), tempfile.TemporaryDirectory(prefix="eval-") as tmp:
        model, tokenizer = load_base(base_dir)
        model.eval()
        base_outputs = greedy_outputs(model, tokenizer, prompts, max_new_tokens=thresholds.behaviour_max_new_tokens)
        peft_model = PeftModel.from_pretrained(model, candidate.write(Path(tmp, "candidate")), adapter_name="candidate")
        peft_model.eval()
        cand_held, cand_reg = _losses(peft_model, tokenizer, heldout, regression)
        cand_outputs = greedy_outputs(peft_model, tokenizer, prompts,
                                      max_new_tokens=thresholds.behaviour_max_new_tokens)
        cand_suites = _suite_outputs(peft_model, tokenizer, suites)
        if baseline.adapter is None and baseline.base_dir == base_dir:
            with peft_model.disable_adapter():
                base_held, base_reg = _losses(peft_model, tokenizer, heldout, regression)
                base_suites = _suite_outputs(peft_model, tokenizer, suites)
        elif baseline.base_dir == base_dir:
            assert baseline.adapter is not None
            peft_model.load_adapter(str(baseline.adapter.write(Path(tmp, "production"))), adapter_name="production")
            peft_model.set_adapter("production")
            base_held, base_reg = _losses(peft_model, tokenizer, heldout, regression)
            base_suites = _suite_outputs(peft_model, tokenizer, suites)
        else:
            other, other_tok = load_base(baseline.base_dir)
            other.eval()
            if baseline.adapter is not None:
                other = PeftModel.from_pretrained(other, baseline.adapter.write(Path(tmp, "production")))
                other.eval()
            base_held, base_reg = _losses(other, other_tok, heldout, regression)
            base_suites = _suite_outputs(other, other_tok, suites)
    changed = sum(1 for a, b in zip(cand_outputs, base_outputs, strict=True) if a != b)
    result = decide(
        heldout_candidate=cand_held, heldout_baseline=base_held,
        regression_candidate=cand_reg, regression_baseline=base_reg,
        changed_share=changed / len(prompts) if prompts else 0.0,
        baseline_name=baseline.name, thresholds=thresholds, heldout_tolerance=heldout_tolerance,
    )
    samples = list(zip(prompts, base_outputs, cand_outputs, strict=True))[:3]
    result.metrics["behaviour_samples"] = [{"prompt": p, "base": b, "candidate": c} for p, b, c in samples]
    if not suites:
        return result
    return apply_suites(result, [
        score_suite(suite, cand, base, baseline_name=baseline.name, judge=judge or _no_judge)
        for suite, cand, base in zip(suites, cand_suites, base_suites, strict=True)])
