"""The training loop's lean forward computes what transformers' Llama with peft's LoRA layers computes.

Reference: the plain peft model on packed rows (its own attention over the rows' position ids, its own
loss on the labels); the lean forward on the same rows flattened. Loss and every LoRA gradient must
agree up to float rounding, with B matrices that are not zero (a fresh LoRA's B is, which would leave
the A gradients zero and hide a wrong fusion).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from adaptloop_scenarios.corpus import generate_pairs
from adaptloop_trainer import lean_forward
from adaptloop_trainer.lean_forward import LeanForward
from adaptloop_trainer.packing import IGNORE, pack, tokenise
from adaptloop_trainer.snapshot import snapshot_from_export
from adaptloop_trainer.torch_runtime import deterministic, load_base
from adaptloop_trainer.training_config import TrainingConfig
from adaptloop_trainer.training_loop import lora_config, segments_of


def _rows(tokenizer: Any, n_examples: int, seq_len: int) -> tuple[Any, Any, Any, Any]:
    import torch

    pairs = generate_pairs("automotive", n_examples, seed=5)
    examples = snapshot_from_export({"prompt": p.prompt, "target": p.answer} for p in pairs).train
    rows = pack([tokenise(tokenizer, e, seq_len=seq_len) for e in examples], seq_len=seq_len,
                pad_id=tokenizer.pad_token_id)[:3]
    ids = torch.tensor([r.input_ids for r in rows])
    labels = torch.tensor([r.labels for r in rows])
    positions = torch.tensor([r.position_ids for r in rows])
    real = torch.arange(ids.shape[1])[None, :] < torch.tensor([r.real_tokens for r in rows])[:, None]
    return ids, labels, positions, real


def _lora_model(base: Any, config: TrainingConfig) -> Any:
    import torch
    from peft import get_peft_model

    model = get_peft_model(base, lora_config(config))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.05)
    model.train()
    return model


def _compare(model: Any, ids: Any, labels: Any, positions: Any, real: Any) -> None:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    lean = LeanForward.of(model, max_positions=ids.shape[1])
    assert lean is not None
    flat_positions = positions[real]
    lean_loss = lean.loss(ids[real], flat_positions, labels[real], segments_of(flat_positions), IGNORE)
    lean_grads = torch.autograd.grad(lean_loss, params)
    model.get_base_model().config._attn_implementation = "sdpa"
    plain_loss = model(input_ids=ids, position_ids=positions, labels=labels, use_cache=False).loss
    plain_grads = torch.autograd.grad(plain_loss, params)
    torch.testing.assert_close(lean_loss, plain_loss, rtol=1e-5, atol=1e-6)
    for lean_grad, plain_grad in zip(lean_grads, plain_grads, strict=True):
        assert plain_grad.abs().max() > 0
        torch.testing.assert_close(lean_grad, plain_grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("matmul_attention", [True, False], ids=["matmul-attention", "sdpa"])
def test_the_lean_forward_gives_the_loss_and_gradients_of_the_peft_model(
        tiny_model_dir: Path, matmul_attention: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not matmul_attention:
        monkeypatch.setattr(lean_forward, "MATMUL_ATTENTION_WIDTH", 0)
    with deterministic(0, 2):
        base, tokenizer = load_base(tiny_model_dir)
        ids, labels, positions, real = _rows(tokenizer, 40, 128)
        _compare(_lora_model(base, TrainingConfig(rank=4, alpha=16)), ids, labels, positions, real)


def test_lora_on_some_projections_of_a_group_and_grouped_query_attention(tiny_model_dir: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    with deterministic(1, 2):
        _, tokenizer = load_base(tiny_model_dir)
        config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
        base = LlamaForCausalLM(config)
        for param in base.parameters():
            param.requires_grad_(False)
        ids, labels, positions, real = _rows(tokenizer, 30, 128)
        lora = TrainingConfig(rank=4, alpha=8, target_modules=("q_proj", "v_proj", "up_proj", "down_proj"))
        _compare(_lora_model(base, lora), ids, labels, positions, real)


def test_what_the_lean_forward_does_not_cover_falls_back(tiny_model_dir: Path) -> None:
    with deterministic(0, 2):
        base, _ = load_base(tiny_model_dir)
        assert LeanForward.of(_lora_model(base, TrainingConfig(dropout=0.1)), max_positions=64) is None
        base, _ = load_base(tiny_model_dir)
        assert LeanForward.of(_lora_model(base, TrainingConfig(target_modules=("q_proj", "lm_head"))),
                              max_positions=64) is None
