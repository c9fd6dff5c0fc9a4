"""What makes the demo exit non-zero: each claim it states, named when it does not hold."""

from __future__ import annotations

from typing import Any

import pytest
from adaptloop_demo.run import _check, quality_table
from adaptloop_demo.scenario import DemoError, DemoParams, DemoResult

CLOSED = {"detection_delay_events": 47, "heldout_token_loss_before": 0.53, "heldout_token_loss_after": 0.43,
          "rating_before_swap": 0.2, "rating_after_swap": 0.38,
          "levels": {"pre_shift": 0.42, "shifted": 0.2, "new_version": 0.38, "oracle": 0.4,
                     "new_version_on_old_domain": 0.4},
          "recovery_ratio_vs_oracle": 0.9, "events_from_detection_to_new_version": 250}


def _result(new_version: str | None = "2") -> DemoResult:
    return DemoResult(DemoParams(), new_version=new_version)


def test_a_closed_loop_passes() -> None:
    _check(dict(CLOSED), _result())


@pytest.mark.parametrize(("change", "new_version", "named"), [
    ({}, None, "no new version served"),
    ({"detection_delay_events": 301}, "2", "within 300"),
    ({"detection_delay_events": None}, "2", "within 300"),
    ({"heldout_token_loss_after": 0.53}, "2", "token loss did not improve"),
    ({"heldout_token_loss_after": None}, "2", "token loss did not improve"),
    ({"recovery_ratio_vs_oracle": 0.79}, "2", "won back 0.79 of the oracle's gain"),
    ({"recovery_ratio_vs_oracle": None}, "2", "won back None of the oracle's gain"),
    ({"events_from_detection_to_new_version": 301}, "2", "served 301 events after detection"),
    ({"events_from_detection_to_new_version": None}, "2", "served None events after detection"),
])
def test_each_unmet_claim_fails_the_run_and_is_named(change: dict[str, Any], new_version: str | None,
                                                     named: str) -> None:
    with pytest.raises(DemoError, match=named):
        _check({**CLOSED, **change}, _result(new_version))


def test_recovery_is_the_share_of_the_oracles_gain_won_back() -> None:
    from adaptloop_demo.summary import add_levels, recovery_ratio

    assert recovery_ratio(0.2, 0.38, 0.4) == pytest.approx(0.9)
    assert recovery_ratio(0.2, 0.38, 0.2) is None, "an oracle no better than the shifted level says nothing"
    def quality(rating: float, loss: float) -> dict[str, float]:
        return {"rating": rating, "token_loss": loss}

    measured = {"ratings": {
        "v1": {"capital_markets": quality(0.42, 0.4), "security_ops": quality(0.17, 0.6)},
        "v2": {"capital_markets": quality(0.4, 0.41), "security_ops": quality(0.4, 0.45)},
        "oracle": {"security_ops": quality(0.42, 0.4)},
    }, "evaluation_prompts": 200}
    summary = add_levels({"old_version": "1", "new_version": "2"}, measured)
    assert summary["levels"] == {"pre_shift": 0.42, "shifted": 0.17, "new_version": 0.4, "oracle": 0.42,
                                 "new_version_on_old_domain": 0.4}
    assert summary["recovery_ratio_vs_oracle"] == pytest.approx(0.92)
    assert summary["loss_ratio_vs_oracle"] == pytest.approx(0.75)
    assert add_levels({"old_version": "1", "new_version": "2"}, None)["recovery_ratio_vs_oracle"] is None


def test_the_quality_levels_print_as_a_table() -> None:
    from rich.console import Console

    console = Console(record=True, width=160)
    console.print(quality_table({**CLOSED, "rating_pre_shift": 0.41, "old_version": "1", "new_version": "2",
                                 "evaluation_prompts": 200}))
    text = console.export_text()
    for label in ("pre-shift", "shifted", "new version", "oracle", "recovery", "0.420", "0.380", "0.410", "90%",
                  "200 unseen prompts"):
        assert label in text


def test_evaluation_prompts_exclude_every_prompt_a_user_sent() -> None:
    from adaptloop_demo.oracle import evaluation_pairs
    from adaptloop_scenarios.corpus import generate_pairs

    sent = {p.prompt for p in generate_pairs("security_ops", 400, seed=1, split="heldout")}
    pairs = evaluation_pairs("security_ops", 0, sent, n=50)
    assert len(pairs) == 50 and not sent & {p.prompt for p in pairs}
    assert pairs == evaluation_pairs("security_ops", 0, sent, n=50)


def test_time_to_adapter_is_split_by_the_jobs_own_timings() -> None:
    from adaptloop_contracts.registry_answers import VersionRecord
    from adaptloop_demo.summary import _phases

    result = DemoResult(DemoParams(), shift_at=100.0, new_version="2",
                        new_version_record=VersionRecord.model_construct(metrics={"timings": {
                            "train_loop_s": 50.0, "evaluation_s": 6.0, "registration_s": 1.0}}))
    at = {"drift detected": 117.0, "retrain requested": 117.0, "training started": 118.0,
          "training finished": 176.0, "promoted to production": 176.5, "first request on the new version": 180.0}
    total, shares = _phases(at, result)
    assert total == 80.0
    seconds = {k: round(v * total, 2) for k, v in shares.items()}
    assert seconds == {"detection": 18.0, "training": 51.0, "evaluation": 6.0, "registration": 1.5, "swap": 3.5}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
