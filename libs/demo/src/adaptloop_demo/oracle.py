"""The demo's quality levels on held-out prompts, next to an oracle that says what is reachable.

Every level is measured by one evaluator (greedy answers rated like the users rate them, plus
answer token loss) on prompts no version trained on and no user sent: the old version on the
old domain (pre-shift) and on the new domain (shifted), the new version on both, and the
oracle, a fresh LoRA trained offline on ideal answers of the new domain with the demo's step
budget and hyper-parameters. The work runs in the model environment
(`python -m adaptloop_trainer.reference`); the oracle's adapter is cached under
`var/cache/oracle/`, keyed by everything that decides it, so only the first run trains it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from adaptloop_devstack.paths import var_dir, venv_python
from adaptloop_scenarios.corpus import ScenarioPair, generate_pairs

ORACLE_TRAIN_PAIRS = 400
"""Ideal answers the oracle learns from: more than the loop's window ever holds."""
EVALUATION_PROMPTS = 200
ORACLE_TRAIN_SEED_OFFSET = 1000
EVALUATION_SEED_OFFSET = 2
"""Evaluation prompts come from their own seed (the users' traffic uses seed + 1) and exclude every prompt sent."""


class OracleUnavailable(RuntimeError):
    pass


def evaluation_pairs(domain: str, seed: int, sent: Iterable[str], n: int = EVALUATION_PROMPTS) -> list[ScenarioPair]:
    """`n` held-out prompts of `domain` that no user sent (so no version learnt them from a correction)."""
    excluded = set(sent)
    pool = generate_pairs(domain, 2 * n + len(excluded), seed=seed + EVALUATION_SEED_OFFSET, split="heldout")
    fresh = [p for p in pool if p.prompt not in excluded][:n]
    if len(fresh) < n:
        raise OracleUnavailable(f"only {len(fresh)} unsent held-out prompts of {domain}, need {n}")
    return fresh


def oracle_training_config(training_config: dict[str, Any]) -> dict[str, Any]:
    """The loop's hyper-parameters and step budget, trained from scratch (a reference has no parent)."""
    loop_only = ("gate", "mode", "window", "replay", "incremental_steps")
    return {k: v for k, v in training_config.items() if k not in loop_only} | {"mode": "full"}


def oracle_key(*, weights_sha256: str, domain: str, seed: int, config: dict[str, Any]) -> str:
    material = json.dumps({"weights": weights_sha256, "domain": domain, "seed": seed, "config": config,
                           "train": ORACLE_TRAIN_PAIRS}, sort_keys=True)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


def _write_pairs(path: Path, pairs: list[ScenarioPair]) -> Path:
    path.write_text("".join(json.dumps({"prompt": p.prompt, "answer": p.answer}) + "\n" for p in pairs))
    return path


def measure_levels(
    *,
    model_dir: Path,
    old_domain: str,
    new_domain: str,
    seed: int,
    training_config: dict[str, Any],
    adapters: dict[str, Path],
    sent: Iterable[str],
    timeout_s: float = 1800,
) -> dict[str, Any]:
    """Ratings of every adapter and the oracle on both domains' evaluation prompts: `{name: {domain: quality}}`."""
    sent = set(sent)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    config = oracle_training_config(training_config)
    key = oracle_key(weights_sha256=manifest["weights_sha256"], domain=new_domain, seed=seed, config=config)
    cached = var_dir() / "cache" / "oracle" / key
    cached_ok = (cached / "adapter_model.safetensors").exists() and (cached / "adapter_config.json").exists()
    with tempfile.TemporaryDirectory(prefix="levels-") as tmp:
        out = Path(tmp, "levels.json")
        command = [str(venv_python("model")), "-m", "adaptloop_trainer.reference", "--base-dir", str(model_dir),
                   "--out", str(out)]
        for domain in (old_domain, new_domain):
            path = _write_pairs(Path(tmp, f"{domain}.jsonl"), evaluation_pairs(domain, seed, sent))
            command += ["--set", f"{domain}={path}"]
        for name, directory in adapters.items():
            command += ["--adapter", f"{name}={directory}"]
        if cached_ok:
            command += ["--adapter", f"oracle={cached}"]
        else:
            shutil.rmtree(cached, ignore_errors=True)
            train = generate_pairs(new_domain, ORACLE_TRAIN_PAIRS, seed=seed + ORACLE_TRAIN_SEED_OFFSET,
                                   split="train")
            command += ["--train", str(_write_pairs(Path(tmp, "oracle-train.jsonl"), train)),
                        "--config", json.dumps(config), "--adapter-out", str(cached)]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if proc.returncode != 0 or not out.exists():
            raise OracleUnavailable(f"offline evaluation failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
        result: dict[str, Any] = json.loads(out.read_text())
    result |= {"oracle_cached": cached_ok, "oracle_key": key, "oracle_train_pairs": ORACLE_TRAIN_PAIRS,
               "oracle_config": config, "evaluation_prompts": EVALUATION_PROMPTS}
    return result
