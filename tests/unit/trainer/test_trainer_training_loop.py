"""The training loop on the tiny model: reproducible bytes, resume from a checkpoint, cancel, NaN, warm start."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from adaptloop_scenarios.corpus import generate_pairs
from adaptloop_trainer.candidate_evaluation import AdapterFiles
from adaptloop_trainer.errors import JobCancelled, TrainingFailed
from adaptloop_trainer.snapshot import Example, snapshot_from_export
from adaptloop_trainer.training_config import resolve_training_config
from adaptloop_trainer.training_loop import CHECKPOINT, train_lora

STEPS = 6


@pytest.fixture(scope="module")
def train_examples():  # type: ignore[no-untyped-def]
    pairs = generate_pairs("automotive", 48, seed=3)
    return snapshot_from_export({"prompt": p.prompt, "target": p.answer} for p in pairs).train


def _train(model_dir: Path, examples, ckpt: Path, **kw):  # type: ignore[no-untyped-def]
    config = resolve_training_config({"steps": STEPS, "batch_size": 2, "seq_len": 128, "rank": 4, "seed": 7,
                                      **kw.pop("config", {})})
    return train_lora(base_dir=model_dir, base_model_name="tiny-llama", train=examples, config=config,
                      checkpoint_dir=ckpt, threads=2, checkpoint_every=2, **kw)


def test_same_seed_and_data_reproduce_the_adapter_bytes(
        tiny_model_dir: Path, train_examples: list[Example], tmp_path: Path) -> None:
    a = _train(tiny_model_dir, train_examples, tmp_path / "a")
    b = _train(tiny_model_dir, train_examples, tmp_path / "b")
    assert hashlib.sha256(a.weights).hexdigest() == hashlib.sha256(b.weights).hexdigest()
    assert a.config == b.config and b"tiny-llama" in a.config
    assert a.losses == b.losses and a.tokens_trained > 0


def test_a_killed_run_resumes_from_its_checkpoint_to_the_same_bytes(
        tiny_model_dir: Path, train_examples: list[Example], tmp_path: Path) -> None:
    reference = _train(tiny_model_dir, train_examples, tmp_path / "ref")
    ckpt = tmp_path / "interrupted"
    with pytest.raises(JobCancelled):
        _train(tiny_model_dir, train_examples, ckpt, on_progress=lambda *a: None,
               should_stop=iter([False] * 5 + [True] * 10).__next__)
    assert (ckpt / CHECKPOINT).exists()
    resumed = _train(tiny_model_dir, train_examples, ckpt)
    assert resumed.resumed_from_step == 4
    assert resumed.weights == reference.weights


def test_nan_loss_fails_the_run(tiny_model_dir: Path, train_examples: list[Example], tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken-base"
    shutil.copytree(tiny_model_dir, broken)
    weights = load_file(broken / "model.safetensors")
    name = next(k for k in weights if k.endswith("norm.weight"))
    weights[name] = weights[name] * float("nan")
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(TrainingFailed, match="loss became nan at step 1"):
        _train(broken, train_examples, tmp_path / "nan")


def test_a_warm_start_continues_from_the_parent_reproducibly(
        tiny_model_dir: Path, train_examples: list[Example], tmp_path: Path) -> None:
    parent = _train(tiny_model_dir, train_examples, tmp_path / "parent", config={"steps": 12})
    files = AdapterFiles(parent.weights, parent.config)
    cold = _train(tiny_model_dir, train_examples, tmp_path / "cold")
    warm = _train(tiny_model_dir, train_examples, tmp_path / "warm", init_adapter=files)
    again = _train(tiny_model_dir, train_examples, tmp_path / "again", init_adapter=files)
    assert warm.weights == again.weights and warm.weights != cold.weights
    assert warm.losses[0] < cold.losses[0]  # the first batch is the same; the parent already learnt it
    budget = _train(tiny_model_dir, train_examples, tmp_path / "budget", init_adapter=files,
                    config={"incremental_steps": 3})
    assert budget.steps == 3 and cold.steps == STEPS


def test_a_parent_of_another_rank_cannot_be_the_starting_point(
        tiny_model_dir: Path, train_examples: list[Example], tmp_path: Path) -> None:
    parent = _train(tiny_model_dir, train_examples, tmp_path / "parent", config={"steps": 1})
    with pytest.raises(TrainingFailed, match="does not fit this LoRA configuration"):
        _train(tiny_model_dir, train_examples, tmp_path / "rank8", init_adapter=AdapterFiles(parent.weights,
               parent.config), config={"rank": 8})


class _RunsCode:
    """Unpickling this creates a file: a checkpoint naming it must be refused, not executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def test_a_checkpoint_naming_code_is_refused_and_training_starts_afresh(
        tiny_model_dir: Path, train_examples: list[Example], tmp_path: Path) -> None:
    import torch

    ckpt, marker = tmp_path / "tampered", tmp_path / "code-ran"
    ckpt.mkdir()
    torch.save({"fingerprint": "x", "step": 4, "payload": _RunsCode(marker)}, ckpt / CHECKPOINT)
    trained = _train(tiny_model_dir, train_examples, ckpt)
    assert not marker.exists(), "unpickling the checkpoint ran code"
    assert trained.resumed_from_step == 0 and trained.steps == STEPS
