"""Guided-decoding benchmark: throughput of JSON-schema, JSON-object and tool-call answers against free text.

Standalone (``var/venv/model/bin/python bench/inference/bench_guided_decoding.py``): starts the inference
service's own engine (``VllmEngine``: vLLM with xgrammar, free whitespace disabled, LoRA enabled) on the
tiny model and sends the same prompts, in the same concurrent batches, once per mode:

- ``free``: plain text;
- ``json_schema``: ``response_format`` json_schema (the tests' ticket schema);
- ``json_object``: ``response_format`` json_object;
- ``tool_required``: ``tool_choice`` required over two tools (the schema the API builds).

Rounds alternate the modes so machine noise hits each alike. Headline:
``guided_over_free_tokens_per_s`` (completion tokens per second, json_schema over free), with every
mode's tokens/s, requests/s and mean answer length. Writes ``bench/results/guided_decoding.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

from adaptloop_contracts.openai_requests import ChatBody  # noqa: E402
from adaptloop_devstack.bench_stamp import OUTSIDE_RESULTS, load_average, run_stamp  # noqa: E402
from adaptloop_devstack.inference_stack import PROMPTS_20, TICKET, TOOLS  # noqa: E402
from adaptloop_inference.api.options import tool_calling  # noqa: E402
from adaptloop_inference.infra.vllm_engine import VllmEngine  # noqa: E402
from adaptloop_inference.ports import SamplingOptions, StructuredOutput, ToolSupport  # noqa: E402

BASE_MODEL = "tiny-llama"


def modes() -> dict[str, StructuredOutput | None]:
    body = ChatBody.model_validate({"model": BASE_MODEL, "messages": [{"role": "user", "content": "x"}],
                                    "tools": TOOLS, "tool_choice": "required"})
    tools = tool_calling(body, support=ToolSupport(), base_model=BASE_MODEL)
    assert tools is not None
    return {"free": None, "json_schema": StructuredOutput("json_schema", TICKET),
            "json_object": StructuredOutput("json_object"), "tool_required": StructuredOutput("json_schema",
                                                                                             tools.schema())}


async def one(engine: VllmEngine, prompt_ids: list[int], prompt: str, options: SamplingOptions) -> int:
    tokens = 0
    async for chunk in engine.generate(request_id=f"bench-{uuid.uuid4().hex}", prompt_text=prompt,
                                       prompt_ids=prompt_ids, options=options, lora=None):
        tokens += chunk.token_count
    return tokens


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from adaptloop_scenarios.tiny_model import ensure_tiny_model

    model_dir = ensure_tiny_model(REPO / "var" / "models" / BASE_MODEL)
    engine = await VllmEngine.start(model_dir, max_loras=2, max_lora_rank=16, max_cpu_loras=2, max_model_len=256,
                                    max_num_seqs=args.concurrency, dtype="float32", seed=0,
                                    gpu_memory_utilization=0.5)
    try:
        prompts = [engine.render_chat([{"role": "user", "content": p}]) for p in PROMPTS_20]
        encoded = [(engine.tokenize(p, add_special_tokens=False), p) for p in prompts]
        totals = {name: {"tokens": 0, "requests": 0, "seconds": 0.0} for name in modes()}
        for structured in modes().values():  # warm-up: grammar compilation caches, first batches
            options = SamplingOptions(max_tokens=args.max_tokens, temperature=0.7, seed=1, structured=structured)
            await asyncio.gather(*(one(engine, ids, p, options) for ids, p in encoded[: args.concurrency]))
        for round_index in range(args.rounds):
            for name, structured in modes().items():
                options = SamplingOptions(max_tokens=args.max_tokens, temperature=0.7, seed=round_index,
                                          structured=structured)
                started = time.perf_counter()
                counts = await asyncio.gather(*(one(engine, ids, p, options) for ids, p in encoded))
                totals[name]["seconds"] += time.perf_counter() - started
                totals[name]["tokens"] += sum(counts)
                totals[name]["requests"] += len(counts)
    finally:
        engine.shutdown()
    per_mode = {name: {"tokens_per_s": round(t["tokens"] / t["seconds"], 2),
                       "requests_per_s": round(t["requests"] / t["seconds"], 3),
                       "mean_completion_tokens": round(t["tokens"] / t["requests"], 2),
                       "requests": t["requests"], "seconds": round(t["seconds"], 3)} for name, t in totals.items()}
    free = per_mode["free"]["tokens_per_s"]
    return {
        "guided_over_free_tokens_per_s": round(per_mode["json_schema"]["tokens_per_s"] / free, 4),
        "ratios_tokens_per_s": {name: round(m["tokens_per_s"] / free, 4) for name, m in per_mode.items()},
        "modes": per_mode,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "guided_decoding.json")
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    import torch
    import vllm

    stamp = run_stamp(OUTSIDE_RESULTS, torch=torch.__version__, vllm=vllm.__version__)
    started = time.monotonic()
    figures = asyncio.run(measure(args))
    result = {
        "name": "guided_decoding",
        **stamp,
        **figures,
        "parameters": {"prompts": len(PROMPTS_20), "rounds": args.rounds, "concurrency": args.concurrency,
                       "max_tokens": args.max_tokens, "temperature": 0.7, "model": BASE_MODEL,
                       "structured_outputs": {"backend": "xgrammar", "disable_any_whitespace": True}},
        "machine": {**stamp["machine"], "load_average_at_end": load_average()},
        "bench_seconds": round(time.monotonic() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(args.out)
    print(json.dumps({k: result[k] for k in ("guided_over_free_tokens_per_s", "ratios_tokens_per_s")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
