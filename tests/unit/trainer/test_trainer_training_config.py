import pytest
from adaptloop_trainer.errors import JobRejected
from adaptloop_trainer.training_config import resolve_training_config


def test_layers_merge_with_later_ones_winning_and_gate_merged_deeply() -> None:
    config = resolve_training_config({"rank": 4, "gate": {"max_regression_increase": 0.1}},
                                     {"rank": 16, "learning_rate": 1e-3}, {"gate": {"min_changed_outputs": 0.5}})
    assert config.rank == 16 and config.learning_rate == 1e-3
    assert config.gate.max_regression_increase == 0.1 and config.gate.min_changed_outputs == 0.5


def test_epochs_without_steps_trains_by_epochs() -> None:
    config = resolve_training_config({"epochs": 2})
    assert config.steps is None and config.epochs == 2


@pytest.mark.parametrize("override, message", [
    ({"rank": 0}, "rank"),
    ({"learning_rate": -1}, "learning_rate"),
    ({"target_modules": []}, "target_modules"),
    ({"unknown_knob": 1}, "unknown_knob"),
])
def test_invalid_configuration_is_rejected_with_the_field(override: dict[str, object], message: str) -> None:
    with pytest.raises(JobRejected, match=f"invalid training configuration: .*{message}"):
        resolve_training_config({}, override)


def test_digest_is_stable() -> None:
    assert resolve_training_config({"rank": 4}).digest() == resolve_training_config({"rank": 4}).digest()
