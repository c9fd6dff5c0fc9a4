"""Loading base models and making torch runs reproducible on the CPU."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adaptloop_trainer.errors import JobRejected

MANIFEST = "manifest.json"


def manifest_weights_sha256(model_dir: Path) -> str:
    """The `weights_sha256` a model directory's manifest declares."""
    try:
        manifest = json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))
        return str(manifest["weights_sha256"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JobRejected(f"base model directory {model_dir} has no readable {MANIFEST}: {exc}") from exc


def verify_base_model(models_dir: Path, name: str, expected_sha256: str | None) -> Path:
    """`<models_dir>/<name>`, checked against the registry's weights_sha256 for that base model."""
    model_dir = models_dir / name
    if not model_dir.is_dir():
        raise JobRejected(f"base model {name!r} not found under {models_dir}")
    actual = manifest_weights_sha256(model_dir)
    if expected_sha256 and actual != expected_sha256:
        raise JobRejected(
            f"base model {name!r} at {model_dir} has weights_sha256 {actual}, registry says {expected_sha256}"
        )
    return model_dir


@contextmanager
def deterministic(seed: int, threads: int, *, fill_uninitialized_memory: bool = True) -> Iterator[None]:
    """Seeded global RNG, deterministic kernels and a fixed thread count, restored afterwards.

    `fill_uninitialized_memory=False` keeps torch's deterministic mode from filling every new tensor
    with NaN before an operation writes it (a check for operations that read memory they never wrote;
    the results are the same without it, one pass over each new tensor cheaper).
    """
    import torch
    import torch.utils.deterministic

    saved_threads = torch.get_num_threads()
    saved_det = torch.are_deterministic_algorithms_enabled()
    saved_fill = torch.utils.deterministic.fill_uninitialized_memory  # type: ignore[attr-defined]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(True)
        torch.utils.deterministic.fill_uninitialized_memory = fill_uninitialized_memory  # type: ignore[attr-defined]
        try:
            yield
        finally:
            torch.utils.deterministic.fill_uninitialized_memory = saved_fill  # type: ignore[attr-defined]
            torch.use_deterministic_algorithms(saved_det)
            torch.set_num_threads(saved_threads)


def device() -> Any:
    """A CUDA device when torch has one, else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def import_training_stack() -> float:
    """Import torch, transformers and peft, as a job's first steps would; the seconds it took.

    The job thread calls it once when the trainer starts, so no job after a (re)start spends them
    (4-6 s on a small machine, most of what a short job spent outside its own phases).
    """
    started = time.perf_counter()
    import peft  # noqa: F401
    import torch  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

    return time.perf_counter() - started


def load_base(model_dir: Path) -> tuple[Any, Any]:
    """(model in float32 on `device()`, tokenizer) from a Hugging Face directory; nothing from a hub."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, local_files_only=True)
    model.config.use_cache = False
    return model.to(device()), tokenizer
