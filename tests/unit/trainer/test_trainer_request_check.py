"""A job request is checked before the job exists: names registered, configuration well-formed."""

from __future__ import annotations

from typing import Any

import pytest
from adaptloop_trainer.errors import JobRejected
from adaptloop_trainer.handlers import check_request
from trainer_fakes import FakeRegistry, adapter_record, base_model_record


@pytest.fixture
def registry() -> FakeRegistry:
    fake = FakeRegistry()
    fake.base_models["tiny"] = base_model_record("tiny")
    fake.adapter_records["support"] = adapter_record("support", "tiny", training_config={"steps": 10})
    return fake


def _check(registry: FakeRegistry, **request: Any) -> None:
    fields: dict[str, Any] = {"adapter": "support", "reason": "manual", "base_model": None, "training_config": {}}
    check_request(**{**fields, **request}, registry=registry, defaults={"rank": 4})


@pytest.mark.parametrize(("request_fields", "reason"), [
    ({"adapter": "nobody"}, "unknown adapter 'nobody'"),
    ({"training_config": {"learning_rate": "fast", "steps": -4}}, "invalid training configuration: "),
    ({"training_config": {"rank": 0}}, "invalid training configuration: rank"),
    ({"training_config": {"colour": "blue"}}, "invalid training configuration: colour"),
    ({"base_model": "gone"}, "unknown base model 'gone'"),
    ({"reason": "base_model_upgrade"}, "base_model_upgrade needs base_model"),
    ({"reason": "base_model_upgrade", "adapter": "nobody", "base_model": "tiny"}, "'nobody' is neither"),
])
def test_bad_requests_are_rejected_with_the_reason(registry: FakeRegistry, request_fields: dict[str, Any],
                                                   reason: str) -> None:
    with pytest.raises(JobRejected) as caught:
        _check(registry, **request_fields)
    assert caught.value.reason.startswith(reason)


def test_both_bad_fields_of_the_config_are_named(registry: FakeRegistry) -> None:
    with pytest.raises(JobRejected) as caught:
        _check(registry, training_config={"learning_rate": "fast", "steps": -4})
    assert "learning_rate" in caught.value.reason and "steps" in caught.value.reason


@pytest.mark.parametrize("request_fields", [
    {},
    {"training_config": {"learning_rate": 1e-3, "steps": 4}},
    {"reason": "base_model_upgrade", "adapter": "tiny", "base_model": "tiny"},
    {"reason": "base_model_upgrade", "base_model": "tiny"},
])
def test_good_requests_pass(registry: FakeRegistry, request_fields: dict[str, Any]) -> None:
    _check(registry, **request_fields)
