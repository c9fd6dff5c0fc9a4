"""Onboarding with the CLI against a real registry (PostgreSQL): base model, adapter, import, suites.

Bad input answers one `error:` line and exit code 2, and leaves the registry as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from adaptloop_cli.context import CliContext
from adaptloop_cli.main import app
from adaptloop_cli.settings import CliSettings
from registry_testkit import TOKENS, live_server, make_settings
from safetensors.numpy import save_file
from typer.testing import CliRunner, Result

HIDDEN, INTER, LAYERS = 128, 384, 4
LLAMA = {"architectures": ["LlamaForCausalLM"], "hidden_size": HIDDEN, "intermediate_size": INTER,
         "num_hidden_layers": LAYERS, "num_attention_heads": 2, "num_key_value_heads": 2, "model_type": "llama"}


def base_dir(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps(LLAMA))
    (root / "tokenizer.json").write_text("{}")
    save_file({"embed": np.zeros((4, HIDDEN), dtype=np.float32)}, str(root / "model.safetensors"))
    return root


def adapter_dir(root: Path, *, rank: int = 4, width: int = HIDDEN, modules: tuple[str, ...] = ("q_proj", "v_proj"),
                seed: int = 0) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(LAYERS):
        for module in modules:
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            tensors[f"{prefix}.lora_A.weight"] = rng.standard_normal((rank, width)).astype(np.float32)
            tensors[f"{prefix}.lora_B.weight"] = np.zeros((HIDDEN, rank), dtype=np.float32)
    save_file(tensors, str(root / "adapter_model.safetensors"))
    (root / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, "target_modules": list(modules)}))
    return root


class Registry:
    def __init__(self, url: str, models: Path) -> None:
        self.url, self.models = url, models

    def cli(self, *args: str) -> Result:
        settings = CliSettings(registry_url=self.url, ingest_url="http://127.0.0.1:9", token=TOKENS["admin"],
                               models_dir=self.models, poll_interval_s=0.0)
        return CliRunner().invoke(app, list(args), obj=CliContext(settings=settings), env={"COLUMNS": "200"})

    def get(self, path: str) -> Any:
        response = httpx.get(self.url + path, timeout=10)
        return response.json() if response.status_code == 200 else response.status_code


@pytest.fixture
def registry(postgres: tuple[str, str], tmp_path: Path) -> Iterator[Registry]:
    with live_server(make_settings(postgres, tmp_path)) as url:
        yield Registry(url, tmp_path / "models")


def refused(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and all(w in errors[0] for w in words), result.stderr


def test_base_model_adapter_import_promote_and_suites(registry: Registry, tmp_path: Path) -> None:
    model = base_dir(tmp_path / "models" / "tiny")
    added = registry.cli("base-models", "add", "tiny", str(model), "--reason", "our model", "--output", "json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["manifest_written"] is True and (model / "manifest.json").is_file()
    assert registry.cli("base-models", "add", "tiny", str(model)).exit_code == 0  # the same weights again: no-op

    created = registry.cli("adapters", "create", "support", "--base-model", "tiny", "--policy", "manual",
                           "--reason", "first adapter")
    assert created.exit_code == 0, created.output
    imported = registry.cli("adapters", "import", "support", str(adapter_dir(tmp_path / "a1")), "--promote",
                            "--reason", "trained elsewhere", "--output", "json")
    assert imported.exit_code == 0, imported.output
    answer = json.loads(imported.stdout)
    assert answer["version"] == 1 and answer["production"] == 1 and answer["rank"] == 4
    assert registry.get("/v1/adapters/support")["aliases"] == {"production": 1}
    audit = registry.get("/v1/audit?limit=20")
    assert {"our model", "first adapter", "trained elsewhere"} <= {
        (a["details"] or {}).get("reason") for a in audit}

    suite = tmp_path / "Refunds FAQ.jsonl"
    suite.write_text('{"prompt": "Can I get a refund?", "expected": "yes within 30 days"}\n\n'
                     '{"prompt": "Refund time?", "expected": "5 days"}\n')
    attached = registry.cli("eval-suites", "add", "support", str(suite), "--metric", "token_f1",
                            "--tolerance", "0.05", "--output", "json")
    assert attached.exit_code == 0, attached.output
    record = json.loads(attached.stdout)
    assert (record["name"], record["version"], record["items"], record["metric"]) == ("refunds-faq", 1, 2, "token_f1")
    again = registry.cli("eval-suites", "add", "support", str(suite), "--metric", "exact_match", "--output", "json")
    assert json.loads(again.stdout)["version"] == 2
    listed = registry.get("/v1/adapters/support/eval-suites")
    assert [(s["name"], s["version"], s["metric"]) for s in listed] == [("refunds-faq", 2, "exact_match")]
    assert registry.cli("versions", "support").exit_code == 0


def test_bad_input_is_one_line_exit_2_and_registers_nothing(registry: Registry, tmp_path: Path) -> None:
    model = base_dir(tmp_path / "models" / "tiny")
    refused(registry.cli("base-models", "add", "tiny", str(tmp_path / "nowhere")), "no such directory")
    (model / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    refused(registry.cli("base-models", "add", "tiny", str(model)), "pickle")
    (model / "pytorch_model.bin").unlink()
    assert registry.get("/v1/base-models") == []
    assert registry.cli("base-models", "add", "tiny", str(model)).exit_code == 0

    refused(registry.cli("adapters", "create", "support", "--base-model", "other"), "'other' is not registered")
    refused(registry.cli("adapters", "create", "Bad Name", "--base-model", "tiny"), "invalid adapter")
    assert registry.get("/v1/adapters") == []
    assert registry.cli("adapters", "create", "support", "--base-model", "tiny").exit_code == 0

    refused(registry.cli("adapters", "import", "support", str(adapter_dir(tmp_path / "wide", width=256))),
            "base_mismatch", "input features")
    refused(registry.cli("adapters", "import", "support", str(adapter_dir(tmp_path / "r64", rank=64))),
            "rank_too_large")
    refused(registry.cli("adapters", "import", "support", str(adapter_dir(tmp_path / "mlp", modules=("lm_head",)))),
            "unsupported_modules")
    refused(registry.cli("adapters", "import", "nobody", str(adapter_dir(tmp_path / "ok"))), "'nobody'")
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(registry.cli("adapters", "import", "support", str(empty)), "missing")
    assert registry.get("/v1/adapters/support/versions") == []

    bad_suite = tmp_path / "bad.jsonl"
    bad_suite.write_text('{"prompt": "a", "expected": "b"}\n{"prompt": "c"}\n')
    refused(registry.cli("eval-suites", "add", "support", str(bad_suite), "--metric", "exact_match"),
            "line 2", "expected")
    bad_suite.write_text('{"prompt": "a", "schema": {"type": 12}}\n')
    refused(registry.cli("eval-suites", "add", "support", str(bad_suite), "--metric", "json_schema"), "JSON Schema")
    refused(registry.cli("eval-suites", "add", "support", str(bad_suite), "--metric", "bleu"), "--metric")
    big = tmp_path / "big.jsonl"
    big.write_bytes(b" " * (8 * 1024 * 1024 + 1))
    refused(registry.cli("eval-suites", "add", "support", str(big), "--metric", "regex"), "more than")
    assert registry.get("/v1/adapters/support/eval-suites") == []
