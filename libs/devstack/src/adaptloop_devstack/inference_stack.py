"""The inference service's real parts, for its integration tests and its benchmarks.

LoRA adapters trained with peft on the tiny model, a registry process, the service as a process,
shared prompts and structured-output schemas. torch, transformers and peft (the model environment)
load only when an adapter is trained.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from adaptloop_devstack.paths import repo_root, venv_python

ADMIN_TOKEN = "inference-tests-admin-token"
TRAINER_TOKEN = "inference-tests-trainer-token"
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj"]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wait_until(predicate: Callable[[], Any], *, timeout_s: float, interval_s: float = 0.1, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy; fail with `what` after the deadline."""
    deadline = time.monotonic() + timeout_s
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # polled conditions may fail until the system is up
            last_exc = exc
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what or predicate}: {last_exc}")


class LoraFactory:
    """Trains real rank-r LoRA adapters on the tiny model with peft, a few steps each, cached by (seed, rank)."""

    def __init__(self, model_dir: Path, out_root: Path) -> None:
        self._model_dir = model_dir
        self._root = out_root
        self._cache: dict[tuple[int, int], Path] = {}
        self._base: Any = None
        self._tokenizer: Any = None
        self._texts: list[str] = []

    def adapter(self, seed: int, *, rank: int = 8, steps: int = 4) -> Path:
        key = (seed, rank)
        if key not in self._cache:
            self._cache[key] = self._train(seed, rank, steps)
        return self._cache[key]

    def _prepare(self) -> None:
        if self._base is not None:
            return
        from adaptloop_scenarios.corpus import generate_pairs
        from adaptloop_scenarios.tiny_tokenizer import pair_messages
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(self._model_dir)
        self._base = AutoModelForCausalLM.from_pretrained(self._model_dir)
        from adaptloop_scenarios.corpus import DOMAINS

        for domain in DOMAINS:
            self._texts += [self._tokenizer.apply_chat_template(pair_messages(p), tokenize=False)
                            for p in generate_pairs(domain, 16, seed=7)]

    def _train(self, seed: int, rank: int, steps: int) -> Path:
        import torch
        from peft import LoraConfig, get_peft_model

        self._prepare()
        torch.manual_seed(seed)
        config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=TARGET_MODULES)
        model = get_peft_model(self._base, config)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
        model.train()
        order = torch.randperm(len(self._texts)).tolist()
        for step in range(steps):
            batch_texts = [self._texts[order[(step * 8 + i) % len(order)]] for i in range(8)]
            batch = self._tokenizer(batch_texts, add_special_tokens=False, padding=True, return_tensors="pt")
            labels = batch["input_ids"].masked_fill(batch["attention_mask"].eq(0), -100)
            loss = model(**batch, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        out = self._root / f"seed{seed}-r{rank}"
        model.save_pretrained(out, safe_serialization=True)
        self._base = model.unload()
        self._base.eval()
        return out


@dataclass
class Registry:
    """A registry service process and the admin calls tests make on it."""

    url: str
    process: subprocess.Popen[bytes]
    artifact_dir: Path
    log_path: Path
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30.0)

    def _call(self, method: str, path: str, *, token: str = ADMIN_TOKEN, **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def register_base_model(self, name: str, model_dir: Path) -> None:
        manifest = json.loads((model_dir / "manifest.json").read_text())
        existing = self.http.get(f"/v1/base-models/{name}")
        if existing.status_code == 200:
            return
        self._call("POST", "/v1/base-models", json={
            "name": name, "version": "1", "location": str(model_dir), "weights_sha256": manifest["weights_sha256"]})

    def create_adapter(self, name: str, base_model: str) -> None:
        self._call("POST", "/v1/adapters", json={"name": name, "base_model": base_model})

    def upload(self, path: Path) -> str:
        sha = sha256_file(path)
        self._call("PUT", f"/v1/artifacts/{sha}", token=TRAINER_TOKEN, params={"filename": path.name},
                   content=path.read_bytes())
        return sha

    def register_version(self, name: str, adapter_dir: Path) -> int:
        weights = self.upload(adapter_dir / "adapter_model.safetensors")
        config = self.upload(adapter_dir / "adapter_config.json")
        answer = self._call("POST", f"/v1/adapters/{name}/versions", token=TRAINER_TOKEN, json={
            "weights_sha256": weights, "config_sha256": config, "metrics": {},
            "evaluation": {"passed": True, "metrics": {}}})
        return int(answer["version"])

    def move_alias(self, name: str, alias: str, version: int, *, weight: float | None = None) -> None:
        current = self.http.get(f"/v1/adapters/{name}").json().get("aliases", {}).get(alias)
        expected = current.get("version") if isinstance(current, dict) else current
        body: dict[str, Any] = {"version": version, "expected_version": expected, "reason": "test"}
        if weight is not None:
            body["weight"] = weight
        self._call("PUT", f"/v1/adapters/{name}/aliases/{alias}", json=body)

    def load_failure_count(self, name: str, version: int) -> int:
        return int(self.http.get(f"/v1/adapters/{name}/versions/{version}").json().get("load_failures") or 0)

    def artifact_path(self, sha: str) -> Path:
        return self.artifact_dir / "sha256" / sha[:2] / sha[2:4] / sha

    def stop(self) -> None:
        self.http.close()
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout_s)


def spawn(module: str, env_name: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    full_env = {**os.environ, **env, "ADAPTLOOP_REPO": str(repo_root())}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen([str(venv_python(env_name)), "-m", module], env=full_env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=str(repo_root()), start_new_session=True)


@dataclass
class InferenceService:
    """The service under test as a process that can be killed and started again with the same settings."""

    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = spawn("adaptloop_inference", "model", self.env, self.log_path)

    def wait_ready(self, timeout_s: float = 600.0) -> None:
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"inference exited with {self.process.returncode}; log: {self.tail()}")
            return httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"inference not ready within {timeout_s}s; log: {self.tail()}")

    def kill(self) -> None:
        if self.process is not None:
            stop_process(self.process, sig=signal.SIGKILL)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def state(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/v1/serving-state", timeout=10.0).json()  # type: ignore[no-any-return]

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        from prometheus_client.parser import text_string_to_metric_families

        total = 0.0
        text = httpx.get(f"{self.url}/metrics", timeout=10.0).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                    total += sample.value
        return total


PROMPTS = [
    "<s><|user|>\nHow do I check the brake pads?</s>\n<|assistant|>\n",
    "<s><|user|>\nWhat limits apply to a repo desk?</s>\n<|assistant|>\n",
    "<s><|user|>\nAn alert fired on the VPN gateway.</s>\n<|assistant|>\n",
    "The torque spec for",
]


# Structured-output and tool-calling requests (the acceptance tests and the guided-decoding benchmark)
TICKET = {
    "type": "object",
    "properties": {
        "severity": {"type": "string", "enum": ["low", "medium", "high"]},
        "component": {"type": "string", "maxLength": 20},
        "escalate": {"type": "boolean"},
        "parts": {"type": "integer", "minimum": 0, "maximum": 99},
    },
    "required": ["severity", "component", "escalate", "parts"],
    "additionalProperties": False,
}
LOOKUP = {"type": "object", "properties": {"part": {"type": "string", "maxLength": 16},
                                           "urgent": {"type": "boolean"}},
          "required": ["part", "urgent"], "additionalProperties": False}
TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "lookup_part", "description": "Find a spare part",
                                      "parameters": LOOKUP}},
    {"type": "function", "function": {"name": "open_ticket", "description": "Open a support ticket",
                                      "parameters": TICKET}},
]
SUBJECTS = ["brake pads", "the VPN gateway", "a repo desk limit", "the torque spec", "a flat tyre", "the login page",
            "an overdue invoice", "the coolant level", "a failed backup", "the wiper blades", "a margin call",
            "the firewall rule", "an oil leak", "a password reset", "the battery", "a trade settlement",
            "the air filter", "a certificate expiry", "the gearbox", "a disk alert"]
PROMPTS_20 = [f"File a ticket about {subject}." for subject in SUBJECTS]
