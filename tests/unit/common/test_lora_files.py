"""The LoRA checks shared by inference and `adaptloop adapters import`: shapes against the base model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from adaptloop_common.lora_files import BaseShapes, LoraFileRejected, LoraLimits, check_adapter_dir
from safetensors.numpy import save_file

BASE = BaseShapes.from_config({"hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 2,
                               "num_attention_heads": 2, "num_key_value_heads": 1})


def adapter(directory: Path, tensors: dict[str, tuple[int, int]], modules: list[str]) -> Path:
    directory.mkdir()
    weights = {k: np.zeros(s, dtype=np.float32) for k, s in tensors.items()}
    save_file(weights, str(directory / "adapter_model.safetensors"))
    (directory / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4, "target_modules": modules}))
    return directory


def key(layer: int, module: str, part: str) -> str:
    return f"base_model.model.model.layers.{layer}.self_attn.{module}.lora_{part}.weight"


def test_shapes_that_fit_the_base_pass_and_kv_heads_are_honoured(tmp_path: Path) -> None:
    fits = adapter(tmp_path / "ok", {key(1, "q_proj", "A"): (4, 128), key(1, "q_proj", "B"): (128, 4),
                                     key(0, "v_proj", "A"): (4, 128), key(0, "v_proj", "B"): (64, 4)},
                   ["q_proj", "v_proj"])
    assert check_adapter_dir(fits, LoraLimits(max_rank=8, base=BASE)).rank == 4


@pytest.mark.parametrize(("tensors", "words"), [
    ({key(0, "v_proj", "A"): (4, 128), key(0, "v_proj", "B"): (128, 4)}, "64 output features, not 128"),
    ({key(0, "q_proj", "A"): (4, 256), key(0, "q_proj", "B"): (128, 4)}, "128 input features, not 256"),
    ({key(2, "q_proj", "A"): (4, 128), key(2, "q_proj", "B"): (128, 4)}, "layer 2 but the base model has 2"),
])
def test_a_tensor_that_does_not_fit_the_base_is_refused(tmp_path: Path, tensors: dict[str, tuple[int, int]],
                                                        words: str) -> None:
    directory = adapter(tmp_path / "bad", tensors, ["q_proj", "v_proj"])
    with pytest.raises(LoraFileRejected) as refused:
        check_adapter_dir(directory, LoraLimits(max_rank=8, base=BASE))
    assert refused.value.kind == "base_mismatch" and words in refused.value.reason
    assert check_adapter_dir(directory, LoraLimits(max_rank=8)).rank == 4  # without the base: not checked
