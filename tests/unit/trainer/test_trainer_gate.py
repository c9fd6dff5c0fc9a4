from adaptloop_trainer.evaluation import LossStats, decide
from adaptloop_trainer.training_config import GateThresholds


def _decide(cand: float, base: float, reg_cand: float = 0.0, reg_base: float = 0.0, changed: float = 1.0):  # type: ignore[no-untyped-def]
    reg_tokens = 10 if reg_cand else 0
    return decide(heldout_candidate=LossStats(cand * 100, 50, 100), heldout_baseline=LossStats(base * 100, 50, 100),
                  regression_candidate=LossStats(reg_cand * 100, reg_tokens, 100),
                  regression_baseline=LossStats(reg_base * 100, reg_tokens, 100),
                  changed_share=changed, baseline_name="production v1", thresholds=GateThresholds())


def test_better_candidate_passes_with_metrics() -> None:
    result = _decide(0.5, 0.8)
    assert result.passed and result.verdict.startswith("passed")
    assert result.metrics["heldout_loss"] == 0.5 and result.metrics["heldout_loss_baseline"] == 0.8


def test_worse_held_out_loss_fails() -> None:
    result = _decide(0.9, 0.8)
    assert not result.passed and "held-out loss" in result.verdict


def test_regression_set_catches_a_candidate_that_forgot() -> None:
    result = _decide(0.5, 0.8, reg_cand=0.9, reg_base=0.5)
    assert not result.passed and "regression-set loss" in result.verdict


def test_no_op_adapter_fails_the_behaviour_check() -> None:
    result = _decide(0.5, 0.8, changed=0.0)
    assert not result.passed and "changes too little" in result.verdict
