"""The oracle level: what an adapter trained offline on the new domain's ideal answers reaches.

The oracle is a fresh LoRA on the base model trained on ideal answers of the new domain with the
demo's step budget and hyper-parameters, rated on the same held-out prompts the demo's users
send after the shift. It says what is reachable, so the loop's recovery can be stated as a
share of it. Training runs in the model environment (`python -m adaptloop_trainer.reference`);
the result is cached under `var/cache/oracle/`, keyed by everything that decides it, so the
benchmark's run and later demos reuse it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from adaptloop_devstack.paths import var_dir, venv_python
from adaptloop_scenarios.corpus import ScenarioPair, generate_pairs

ORACLE_TRAIN_PAIRS = 400
"""Ideal answers the oracle learns from: more than the loop's window ever holds."""
HELDOUT_PROMPTS = 120
ORACLE_TRAIN_SEED_OFFSET = 1000
"""The oracle's training pairs come from their own seed; held-out prompts never overlap (split by hash)."""


class OracleUnavailable(RuntimeError):
    pass


def heldout_pairs(domain: str, seed: int, n: int = HELDOUT_PROMPTS) -> list[ScenarioPair]:
    """The new-domain prompts the demo's users send after the shift (their first `n`)."""
    return generate_pairs(domain, n, seed=seed + 1, split="heldout")


def oracle_training_config(training_config: dict[str, Any]) -> dict[str, Any]:
    """The loop's hyper-parameters and step budget, trained from scratch (a reference has no parent)."""
    loop_only = ("gate", "mode", "window", "replay", "incremental_steps")
    return {k: v for k, v in training_config.items() if k not in loop_only} | {"mode": "full"}


def cache_key(*, weights_sha256: str, domain: str, seed: int, config: dict[str, Any]) -> str:
    material = json.dumps({"weights": weights_sha256, "domain": domain, "seed": seed, "config": config,
                           "train": ORACLE_TRAIN_PAIRS, "heldout": HELDOUT_PROMPTS}, sort_keys=True)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


def _write_pairs(path: Path, pairs: list[ScenarioPair]) -> Path:
    path.write_text("".join(json.dumps({"prompt": p.prompt, "answer": p.answer}) + "\n" for p in pairs))
    return path


def oracle_level(
    *, model_dir: Path, domain: str, seed: int, training_config: dict[str, Any], timeout_s: float = 1200
) -> dict[str, Any]:
    """The cached oracle result for this model, domain, seed and budget; trained (minutes) when missing."""
    manifest = json.loads((model_dir / "manifest.json").read_text())
    config = oracle_training_config(training_config)
    key = cache_key(weights_sha256=manifest["weights_sha256"], domain=domain, seed=seed, config=config)
    cached = var_dir() / "cache" / "oracle" / f"{key}.json"
    if cached.exists():
        return {**json.loads(cached.read_text()), "cached": True}
    train = generate_pairs(domain, ORACLE_TRAIN_PAIRS, seed=seed + ORACLE_TRAIN_SEED_OFFSET, split="train")
    with tempfile.TemporaryDirectory(prefix="oracle-") as tmp:
        out = Path(tmp, "oracle.json")
        command = [
            str(venv_python("model")), "-m", "adaptloop_trainer.reference", "--base-dir", str(model_dir),
            "--train", str(_write_pairs(Path(tmp, "train.jsonl"), train)),
            "--heldout", str(_write_pairs(Path(tmp, "heldout.jsonl"), heldout_pairs(domain, seed))),
            "--config", json.dumps(config), "--out", str(out),
        ]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if proc.returncode != 0 or not out.exists():
            raise OracleUnavailable(f"oracle training failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
        result = json.loads(out.read_text())
    result |= {"domain": domain, "seed": seed, "train_pairs": ORACLE_TRAIN_PAIRS, "config": config}
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(result, indent=2))
    return {**result, "cached": False}
