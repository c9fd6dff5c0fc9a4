"""What makes the demo exit non-zero, and what it only warns about."""

from __future__ import annotations

from typing import Any

import pytest
from adaptloop_demo.run import _check, rating_verdict
from adaptloop_demo.scenario import DemoError, DemoParams, DemoResult

CLOSED = {"detection_delay_events": 47, "heldout_token_loss_before": 0.53, "heldout_token_loss_after": 0.43,
          "rating_before_swap": 0.2, "rating_after_swap": 0.3}


def _result(new_version: str | None = "2") -> DemoResult:
    return DemoResult(DemoParams(), new_version=new_version)


def test_a_closed_loop_passes() -> None:
    _check(dict(CLOSED), _result())
    assert rating_verdict(CLOSED) is None


@pytest.mark.parametrize(("change", "new_version", "named"), [
    ({}, None, "no new version served"),
    ({"detection_delay_events": 301}, "2", "within 300"),
    ({"detection_delay_events": None}, "2", "within 300"),
    ({"heldout_token_loss_after": 0.53}, "2", "token loss did not improve"),
    ({"heldout_token_loss_after": None}, "2", "token loss did not improve"),
])
def test_each_unmet_claim_fails_the_run_and_is_named(change: dict[str, Any], new_version: str | None,
                                                     named: str) -> None:
    with pytest.raises(DemoError, match=named):
        _check({**CLOSED, **change}, _result(new_version))


def test_a_rating_that_did_not_rise_is_a_warning_with_both_figures() -> None:
    summary = {**CLOSED, "rating_after_swap": 0.19}
    _check(summary, _result())
    assert rating_verdict(summary) == "warning: the new-domain rating average did not improve (0.2 -> 0.19)"


def test_time_to_adapter_is_split_by_the_jobs_own_timings() -> None:
    from adaptloop_demo.summary import _phases

    result = DemoResult(DemoParams(), shift_at=100.0, new_version="2",
                        new_version_record={"metrics": {"timings": {"train_loop_s": 50.0, "evaluation_s": 6.0,
                                                                    "registration_s": 1.0}}})
    at = {"drift detected": 117.0, "retrain requested": 117.0, "training started": 118.0,
          "training finished": 176.0, "promoted to production": 176.5, "first request on the new version": 180.0}
    total, shares = _phases(at, result)
    assert total == 80.0
    seconds = {k: round(v * total, 2) for k, v in shares.items()}
    assert seconds == {"detection": 18.0, "training": 51.0, "evaluation": 6.0, "registration": 1.5, "swap": 3.5}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
