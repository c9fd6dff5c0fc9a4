"""The tiny model builds byte-identically, is reused while valid, and is worth adapting."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from adaptloop_devstack.paths import var_dir
from adaptloop_scenarios.corpus import DOMAINS, ScenarioPair, generate_pairs
from adaptloop_scenarios.model_manifest import file_sha256, verify_model_dir
from adaptloop_scenarios.tiny_model import build_tiny_model, ensure_tiny_model
from adaptloop_scenarios.tiny_tokenizer import pair_messages, render_chat

QUICK_STEPS = 4


class StepCounter:
    """Progress callback that counts training steps, i.e. whether a build ran."""

    def __init__(self) -> None:
        self.steps = 0

    def __call__(self, step: int, total: int, loss: float) -> None:
        self.steps += 1


@pytest.fixture(scope="module")
def default_model() -> Path:
    """The default build the whole test run shares (``make model`` builds it beforehand)."""
    return ensure_tiny_model(var_dir() / "models" / "tiny-llama", seed=0)


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = build_tiny_model(tmp_path / "one", seed=0, steps=QUICK_STEPS)
    second = build_tiny_model(tmp_path / "two", seed=0, steps=QUICK_STEPS)
    assert first.weights_sha256 == second.weights_sha256
    assert file_sha256(first.path / "model.safetensors") == file_sha256(
        second.path / "model.safetensors"
    )
    assert first.param_count == second.param_count > 1_000_000
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["one", "two"]
    for path in first.path.iterdir():
        content = path.read_bytes()
        assert str(tmp_path).encode() not in content, path.name
        assert b".building-" not in content, path.name


def test_ensure_reuses_a_valid_build_and_rebuilds_an_invalid_one(tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    built, reused, repaired = StepCounter(), StepCounter(), StepCounter()
    ensure_tiny_model(out, seed=0, steps=QUICK_STEPS, progress=built)
    original = verify_model_dir(out)["weights_sha256"]
    ensure_tiny_model(out, seed=0, steps=QUICK_STEPS, progress=reused)
    assert (built.steps, reused.steps) == (QUICK_STEPS, 0)

    weights = out / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    ensure_tiny_model(out, seed=0, steps=QUICK_STEPS, progress=repaired)
    assert repaired.steps == QUICK_STEPS
    assert verify_model_dir(out)["weights_sha256"] == original

    ensure_tiny_model(out, seed=1, steps=QUICK_STEPS)
    manifest = verify_model_dir(out)
    assert manifest["build"]["seed"] == 1
    assert manifest["weights_sha256"] != original


def test_layout_and_chat_template(default_model: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    names = {p.name for p in default_model.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json", "manifest.json"} <= names
    config = AutoConfig.from_pretrained(default_model)
    assert config.hidden_size // config.num_attention_heads == config.head_dim == 64
    tokenizer = AutoTokenizer.from_pretrained(default_model)
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<s>", "</s>", "<pad>")
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why?"}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == render_chat(messages, add_generation_prompt=True)
    assert rendered.endswith("<|assistant|>\n")


def test_greedy_answers_look_like_the_corpus(default_model: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(default_model)
    model = AutoModelForCausalLM.from_pretrained(default_model).eval()
    for domain in DOMAINS:
        question = generate_pairs(domain, 1, seed=9, split="heldout")[0].prompt
        prompt = render_chat([{"role": "user", "content": question}], add_generation_prompt=True)
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
        output = model.generate(ids, max_new_tokens=80, do_sample=False)[0, ids.shape[1] :]
        assert output[-1].item() == tokenizer.eos_token_id
        assert 10 <= len(tokenizer.decode(output, skip_special_tokens=True).split()) <= 60


def _answer_batch(tokenizer, pairs: list[ScenarioPair]) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    """Token ids of whole conversations, with loss on the answer tokens only."""
    rows, labels = [], []
    for pair in pairs:
        prompt = render_chat(pair_messages(pair)[:1], add_generation_prompt=True)
        full = render_chat(pair_messages(pair), add_generation_prompt=False)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        rows.append(full_ids)
        labels.append([-100] * len(prompt_ids) + full_ids[len(prompt_ids) :])
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    target = torch.full((len(rows), width), -100)
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        ids[i, : len(row)] = torch.tensor(row)
        target[i, : len(label)] = torch.tensor(label)
    return {"input_ids": ids, "attention_mask": ids.ne(tokenizer.pad_token_id).long(), "labels": target}


def test_a_domain_lora_lowers_heldout_loss_of_that_domain(default_model: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_model)
    model = AutoModelForCausalLM.from_pretrained(default_model)
    heldout = _answer_batch(tokenizer, generate_pairs("automotive", 64, seed=7, split="heldout"))
    with torch.no_grad():
        before = model.eval()(**heldout).loss.item()

    lora = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    adapted = get_peft_model(model, lora)
    train = generate_pairs("automotive", 200, seed=1)
    optimizer = torch.optim.AdamW([p for p in adapted.parameters() if p.requires_grad], lr=2e-3)
    adapted.train()
    for step in range(80):
        batch = _answer_batch(tokenizer, [train[(step * 16 + i) % len(train)] for i in range(16)])
        loss = adapted(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = adapted.eval()(**heldout).loss.item()
    assert after < 0.95 * before, (before, after)
