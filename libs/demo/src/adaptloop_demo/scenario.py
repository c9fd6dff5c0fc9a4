"""The continuous-adaptation scenario, step by step, against the real local stack.

1. The tiny base model and an adapter `support` trained on capital markets are registered and
   `support` serves production.
2. Simulated users ask capital-markets questions and rate the answers.
3. Midway the traffic shifts to security operations; drift is detected, a retrain is requested,
   the trainer learns from the logged examples, the candidate passes the gate, is promoted,
   and inference swaps it in while traffic flows.
4. Quality on the new domain recovers; the timeline and figures are printed and reported.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from adaptloop_contracts.http_common import Answer
from adaptloop_contracts.ingest_api import ExamplesImported
from adaptloop_contracts.registry_answers import AdapterRecord, BaseModelRecord, VersionRecord
from adaptloop_contracts.trainer_api import JobRecord
from adaptloop_devstack.stack import Stack
from adaptloop_scenarios.corpus import generate_pairs
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from adaptloop_demo.traffic import Served, TrafficGenerator

A = TypeVar("A", bound=Answer)

ADAPTER = "support"
OLD_DOMAIN = "capital_markets"
NEW_DOMAIN = "security_ops"
TRAINING_CONFIG = {
    "mode": "incremental",
    # A drift retrain waits (at most 150 s) for 80 corrected examples of the new traffic: at the
    # alarm there are only a few dozen, too few to learn the new domain from.
    "window": {"min_new_examples": 80, "max_wait_s": 150},
    "steps": 100,
    "rank": 8,
    "alpha": 16.0,
    "learning_rate": 3e-3,
    "batch_size": 8,
    "seq_len": 192,
    # The scenario's traffic moves to a new domain on purpose: the adapter may give up a little
    # on the old domain's pinned regression set (the default tolerance is 5%).
    "gate": {"max_regression_increase": 0.3},
}


class DemoError(RuntimeError):
    pass


@dataclass
class DemoParams:
    seed: int = 0
    adapter: str = ADAPTER
    training_config: dict[str, Any] = field(default_factory=lambda: dict(TRAINING_CONFIG))
    users: int = 4
    seed_examples: int = 160
    requests_before_shift: int = 240
    max_requests_after_shift: int = 4000
    requests_after_swap: int = 60
    after_shift_rps: float = 3.0
    """Traffic pace after the shift: steady, and leaving CPU to training on a 2-core machine."""
    deadline_s: float = 12 * 60


@dataclass
class DemoResult:
    params: DemoParams
    shift_at: float = 0.0
    first_new_version_at: float | None = None
    old_version: str = "1"
    new_version: str | None = None
    served: list[Served] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    new_version_record: VersionRecord | None = None
    """The registry's record of the new version."""
    prompts_sent: set[str] = field(default_factory=set)
    """Every prompt the users sent (held-out evaluation excludes them)."""
    adapter_dirs: dict[str, str] = field(default_factory=dict)
    """Version -> directory with its adapter files, when the run saved them."""


def _wait(what: str, check: Callable[[], Any], timeout_s: float, interval_s: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise DemoError(f"timed out after {timeout_s:.0f}s waiting for {what} (last: {last!r})")


class Scenario:
    def __init__(self, stack: Stack, params: DemoParams, console: Console) -> None:
        self.stack = stack
        self.params = params
        self.console = console
        cfg = stack.config
        self.registry = httpx.Client(base_url=cfg.url("registry"), timeout=30)
        self.trainer = httpx.Client(base_url=cfg.url("trainer"), timeout=30)
        self.ingest = httpx.Client(base_url=cfg.url("ingest"), timeout=60)
        self.admin = {"Authorization": f"Bearer {stack.tokens.token('admin')}"}
        self.service = {"Authorization": f"Bearer {stack.tokens.token('trainer')}"}
        self.result = DemoResult(params)

    # -- step 1 ------------------------------------------------------------------------------
    def register_and_train_first_version(self) -> None:
        manifest = json.loads((self.stack.config.models_dir / "tiny-llama" / "manifest.json").read_text())
        self._ok(
            self.registry.post(
                "/v1/base-models",
                headers=self.admin,
                json={
                    "name": "tiny-llama",
                    "version": "1",
                    "location": "tiny-llama",
                    "weights_sha256": manifest["weights_sha256"],
                },
            ),
            "register the base model",
            BaseModelRecord,
            allow=(409,),
        )
        self._ok(
            self.registry.post(
                "/v1/adapters",
                headers=self.admin,
                json={
                    "name": self.params.adapter,
                    "base_model": "tiny-llama",
                    "training_config": self.params.training_config,
                    "promotion_policy": {"mode": "auto"},
                },
            ),
            "register the adapter",
            AdapterRecord,
            allow=(409,),
        )
        pairs = generate_pairs(OLD_DOMAIN, self.params.seed_examples, seed=self.params.seed, split="train")
        self._ok(
            self.ingest.post(
                "/v1/examples",
                headers=self.service,
                json=[{"adapter": self.params.adapter, "prompt": p.prompt, "answer": p.answer} for p in pairs],
            ),
            "import seed examples",
            ExamplesImported,
        )
        job = self._ok(
            self.trainer.post(
                "/v1/jobs", headers=self.service, json={"adapter": self.params.adapter, "reason": "manual"}
            ),
            "request the first training job",
            JobRecord,
        )
        assert job is not None
        final = _wait("the first training job", lambda: self._final_job(job.job_id), 600)
        if final.state != "succeeded":
            raise DemoError(f"the first training job ended {final.state}: {final.error}")
        version = _wait("a production version", lambda: self._alias_version("production"), 120)
        self.result.old_version = str(version)
        _wait(f"inference to serve version {version}", lambda: self._served_version() == str(version), 120)

    # -- steps 2-3 ---------------------------------------------------------------------------
    def run_traffic(self, traffic: TrafficGenerator, progress: Progress) -> None:
        p = self.params
        old = generate_pairs(OLD_DOMAIN, p.requests_before_shift, seed=p.seed + 1, split="heldout")
        unique = generate_pairs(NEW_DOMAIN, 400, seed=p.seed + 1, split="heldout")
        new = [unique[i % len(unique)] for i in range(p.max_requests_after_shift)]
        started = time.monotonic()
        task = progress.add_task(f"traffic on {OLD_DOMAIN}", total=len(old))
        traffic.run(old, start_index=0, on_served=lambda s: progress.advance(task))
        self.result.shift_at = time.time()
        progress.update(task, description=f"shift: traffic on {NEW_DOMAIN}, waiting for a new version", total=None)
        after_swap = 0

        def on_served(served: Served) -> None:
            nonlocal after_swap
            progress.advance(task)
            if served.version not in (self.result.old_version, "base", "?"):
                if self.result.new_version is None:
                    self.result.new_version = served.version
                    self.result.first_new_version_at = served.at
                    progress.update(task, description=f"version {served.version} serves; measuring quality")
                after_swap += 1

        def stop() -> bool:
            return after_swap >= p.requests_after_swap or time.monotonic() - started > p.deadline_s

        traffic.run(new, start_index=len(old), stop=stop, on_served=on_served, max_rps=p.after_shift_rps)
        self.result.served = list(traffic.served)
        self.result.prompts_sent = {p.prompt for p in old} | {p.prompt for p in unique}
        self.result.failures = list(traffic.failures)
        if self.result.new_version is not None:
            record = self.registry.get(f"/v1/adapters/{self.params.adapter}/versions/{self.result.new_version}")
            if record.status_code == 200:
                self.result.new_version_record = VersionRecord.model_validate_json(record.content)

    def save_adapters(self, out_dir: Path) -> dict[str, str]:
        """The old and new versions' adapter files, sha256-checked, for offline evaluation (the benchmark)."""
        saved: dict[str, str] = {}
        for number in filter(None, (self.result.old_version, self.result.new_version)):
            resp = self.registry.get(f"/v1/adapters/{self.params.adapter}/versions/{number}")
            if resp.status_code != 200:
                continue
            record = VersionRecord.model_validate_json(resp.content)
            target = out_dir / f"v{number}"
            target.mkdir(parents=True, exist_ok=True)
            for sha, filename in ((record.weights_sha256, "adapter_model.safetensors"),
                                  (record.config_sha256, "adapter_config.json")):
                content = self.registry.get(f"/v1/artifacts/{sha}").content
                if hashlib.sha256(content).hexdigest() != sha:
                    raise DemoError(f"artifact {sha} of v{number} downloaded with a different sha256")
                (target / filename).write_bytes(content)
            saved[str(number)] = str(target)
        return saved

    # -- helpers -----------------------------------------------------------------------------
    def _ok(self, resp: httpx.Response, what: str, shape: type[A], allow: tuple[int, ...] = ()) -> A | None:
        """The answer parsed with its contract model (adaptloop_contracts); None for an allowed refusal."""
        if resp.status_code in allow:
            return None
        if resp.status_code >= 400:
            raise DemoError(f"could not {what}: {resp.status_code} {resp.text[:500]}")
        return shape.model_validate_json(resp.content)

    def _final_job(self, job_id: str) -> JobRecord | None:
        job = JobRecord.model_validate_json(self.trainer.get(f"/v1/jobs/{job_id}").content)
        return job if job.state in ("succeeded", "failed", "cancelled", "rejected") else None

    def _alias_version(self, alias: str) -> int | None:
        resp = self.registry.get(f"/v1/adapters/{self.params.adapter}")
        if resp.status_code != 200:
            return None
        return AdapterRecord.model_validate_json(resp.content).aliases.get(alias)

    def _served_version(self) -> str | None:
        resp = httpx.post(
            self.stack.config.url("inference") + "/v1/completions",
            timeout=60,
            json={"model": self.params.adapter, "prompt": "status", "max_tokens": 1, "temperature": 0},
        )
        return resp.headers.get("x-adaptloop-adapter-version") if resp.status_code == 200 else None


def run_scenario(stack: Stack, params: DemoParams, console: Console, adapters_dir: Path | None = None) -> DemoResult:
    """Steps 1-3 with a progress display; returns everything the report needs."""
    scenario = Scenario(stack, params, console)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        step = progress.add_task("registering the base model and training support v1", total=None)
        scenario.register_and_train_first_version()
        progress.update(
            step, description=f"support v{scenario.result.old_version} serves production", total=1, completed=1
        )
        traffic = TrafficGenerator(
            inference_url=stack.config.url("inference"),
            ingest_url=stack.config.url("ingest"),
            ingest_token=stack.tokens.token("trainer"),
            adapter=params.adapter,
            users=params.users,
        )
        try:
            scenario.run_traffic(traffic, progress)
        finally:
            traffic.close()
    if adapters_dir is not None:
        scenario.result.adapter_dirs = scenario.save_adapters(adapters_dir)
    return scenario.result
