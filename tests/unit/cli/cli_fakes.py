"""Fakes for the CLI tests: the services' HTTP ports (registry, trainer, drift, ...) on one MockTransport, answering
the shapes of their contracts (adaptloop_contracts)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from adaptloop_cli.context import CliContext
from adaptloop_cli.main import app
from adaptloop_cli.settings import CliSettings
from typer.testing import CliRunner, Result

TOKEN = "test-admin-token"
PORTS = {8000: "inference", 8001: "ingest", 8002: "registry", 8003: "trainer", 8004: "drift"}


@dataclass
class FakeServices:
    """In-memory answers shaped like the real services'; records every request it saw."""

    adapters: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    base_models: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    job_script: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Successive answers of GET /v1/jobs/{id} (the last one repeats)."""
    drift_state: dict[str, Any] = field(default_factory=lambda: drift_state([]))
    requests: list[httpx.Request] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    new_job_id: str = "6f1c0d1e-0000-4000-8000-000000000001"
    costs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """GET /v1/adapters/{name}/costs of the trainer (an empty ledger when absent)."""
    erasure_answer: dict[str, Any] = field(default_factory=dict)
    """The answer of ingest's POST /v1/erasures (a tenant named `nobody` is a 404)."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        service = PORTS[request.url.port or 80]
        if service in self.down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if request.url.path == "/readyz":
            return httpx.Response(200, json={"status": "ready"})
        route: Callable[[httpx.Request], httpx.Response] = getattr(self, f"_{service}")
        return route(request)

    def mutations(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method != "GET"]

    # -- registry ----------------------------------------------------------------------------
    def _registry(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")[1:]
        if request.method != "GET" and request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"detail": "unknown bearer token"})
        if parts == ["adapters"]:
            return httpx.Response(200, json=list(self.adapters.values()))
        if parts == ["tokens"]:
            body = json.loads(request.content)
            unknown = [a for a in body["adapters"] if a not in self.adapters]
            if unknown:
                return httpx.Response(404, json={"detail": f"adapter {unknown[0]!r} not found"})
            return httpx.Response(201, json={**body, "token": "tok-123", "entry": f"{body['actor']}:x:y"})
        if parts == ["approvals"]:
            return httpx.Response(200, json=[
                {"adapter": name, "production_version": self.adapters[name]["aliases"].get("production"), **v}
                for name, listed in self.versions.items() for v in listed if v.get("status") == "pending_approval"])
        if parts[:1] == ["base-models"]:
            if request.method == "POST":
                body = json.loads(request.content)
                self.base_models[body["name"]] = base_model(**body)
                return httpx.Response(201, json=self.base_models[body["name"]])
            found = self.base_models.get(parts[1])
            return httpx.Response(200, json=found) if found else httpx.Response(
                404, json={"detail": f"base model {parts[1]!r} not found"})
        name = parts[1]
        adapter = self.adapters.get(name)
        if adapter is None:
            return httpx.Response(404, json={"detail": f"adapter {name!r} not found"})
        if parts[2:] == []:
            return httpx.Response(200, json=adapter)
        if parts[2:] == ["versions"]:
            return httpx.Response(200, json=self.versions.get(name, []))
        if parts[2] == "versions" and parts[4:] == ["retire"]:
            return httpx.Response(200, json={**make_version(int(parts[3]), "retired"), "retired_by": "local-admin",
                                             "retired_at": "2025-01-05T00:00:00+00:00"})
        if parts[2] == "versions" and parts[4:] in (["approve"], ["reject"]):
            return self._decide(adapter, int(parts[3]), parts[4], json.loads(request.content))
        if parts[2] == "aliases" and request.method == "PUT":
            return self._move_alias(adapter, parts[3], json.loads(request.content))
        if parts[2] == "aliases" and parts[4:] == ["rollback"]:
            return httpx.Response(409, json={"detail": f"alias {parts[3]!r} of {name!r} has no previous version "
                                                       "to roll back to"})
        return httpx.Response(404, json={"detail": "Not Found"})

    def _move_alias(self, adapter: dict[str, Any], alias: str, body: dict[str, Any]) -> httpx.Response:
        if not isinstance(body.get("version"), int) or body["version"] < 1:
            return httpx.Response(422, json={"detail": [{"loc": ["body", "version"], "msg": "Input should be "
                                                         "greater than or equal to 1", "type": "greater_than_equal"}]})
        current = adapter["aliases"].get(alias)
        if current != body["expected_version"]:
            return httpx.Response(409, json={"detail": f"alias {alias!r} of {adapter['name']!r} points at {current}, "
                                                       f"not {body['expected_version']}"})
        adapter["aliases"][alias] = body["version"]
        return httpx.Response(200, json={"adapter": adapter["name"], "alias": alias, "version": body["version"],
                                         "previous_version": current, "weight": None, "event_id": "e-1",
                                         "moved_at": "2025-01-01T00:00:00+00:00", "moved_by": "local-admin"})

    def _decide(self, adapter: dict[str, Any], number: int, verb: str, body: dict[str, Any]) -> httpx.Response:
        name = adapter["name"]
        version = next((v for v in self.versions.get(name, []) if v["version"] == number), None)
        if version is None:
            return httpx.Response(404, json={"detail": f"adapter {name!r} has no version {number}"})
        if version["status"] != "pending_approval":
            return httpx.Response(409, json={"detail": f"version {number} of {name!r} is {version['status']}, "
                                                       "not pending_approval"})
        moves = []
        if verb == "approve":
            before = adapter["aliases"].get("production")
            adapter["aliases"]["production"] = number
            version["status"] = "production"
            moves = [{"adapter": name, "alias": "production", "version": number, "previous_version": before,
                      "weight": None, "event_id": "e-2", "moved_at": "2025-01-01T00:00:00Z", "moved_by": "local-admin"}]
        else:
            version["status"] = "rejected"
        return httpx.Response(200, json={"adapter": name, "version": number, "status": version["status"],
                                         "decision": "approved" if verb == "approve" else "rejected",
                                         "actor": "local-admin", "reason": body["reason"], "moves": moves,
                                         "decided_at": "2025-01-01T00:00:00Z"})

    # -- trainer -----------------------------------------------------------------------------
    def _trainer(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")[1:]
        if parts[:1] == ["adapters"] and parts[2:] == ["costs"]:
            return httpx.Response(200, json=self.costs.get(parts[1], {
                "adapter": parts[1], "totals": {"retrains": 0, "succeeded": 0, "training_seconds": 0,
                                                "evaluation_seconds": 0, "examples_trained": 0, "tokens_trained": 0,
                                                "requests_served": 0, "tokens_served": 0, "mean_quality_gained": None},
                "last_24h": {"retrains": 0, "training_seconds": 0}, "versions": []}))
        if request.method == "POST" and parts == ["jobs"]:
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return httpx.Response(401, json={"detail": "missing bearer token"})
            body = json.loads(request.content)
            job = make_job(self.new_job_id, body["adapter"], "queued", kind="upgrade" if body["reason"] ==
                           "base_model_upgrade" else "train", reason=body["reason"], base_model=body.get("base_model"))
            self.jobs[self.new_job_id] = job
            return httpx.Response(202, json=job)
        if parts == ["jobs"]:
            return httpx.Response(200, json={"jobs": list(self.jobs.values())})
        if parts[0] == "jobs" and len(parts) == 2:
            script = self.job_script.get(parts[1])
            if script:
                self.jobs[parts[1]] = script.pop(0) if len(script) > 1 else script[0]
            job = self.jobs.get(parts[1])
            return httpx.Response(200, json=job) if job else httpx.Response(404, json={"detail": f"no job {parts[1]}"})
        if parts[0] == "upgrades":
            job = self.jobs[parts[1]]
            return httpx.Response(200, json={"job_id": parts[1], "state": job["state"], "error": job["error"],
                                             "report": job.get("report") or {}})
        return httpx.Response(404, json={"detail": "Not Found"})

    # -- drift, inference, ingest ------------------------------------------------------------
    def _drift(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/state":
            return httpx.Response(200, json=self.drift_state)
        return httpx.Response(404, json={"detail": "Not Found"})

    def _inference(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"object": "list", "data": []})

    def _ingest(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/erasures":
            if json.loads(request.content).get("tenant") == "nobody":
                return httpx.Response(404, json={"detail": "no examples or pending feedback for this tenant"})
            return httpx.Response(200, json=self.erasure_answer)
        return httpx.Response(404, json={"detail": "Not Found"})


def make_job(job_id: str, adapter: str, state: str, *, progress: float = 0.0, kind: str = "train",
             reason: str = "manual", candidate_version: int | None = None, error: str | None = None,
             base_model: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"job_id": job_id, "request_id": "9b0e4c1a-0000-4000-8000-00000000000a", "adapter": adapter,
            "kind": kind, "reason": reason, "state": state, "progress": progress, "base_model": base_model,
            "training_config": {}, "snapshot_id": None, "snapshot_sha256": None,
            "candidate_version": candidate_version, "metrics": {}, "evaluation": None, "report": None,
            "error": error, "cancel_requested": False, "attempts": 1, "created_at": "2025-01-01T00:00:00+00:00",
            "updated_at": "2025-01-01T00:01:00+00:00", **extra}


def make_version(number: int, status: str, *, adapter: str = "support", **extra: Any) -> dict[str, Any]:
    """A version as the registry answers it (`VersionRecord`)."""
    sha = f"{number:064x}"
    return {"adapter": adapter, "version": number, "status": status, "weights_sha256": sha, "weights_size": 1024,
            "config_sha256": sha, "sha256": sha, "artifact_uri": f"http://127.0.0.1:8002/v1/artifacts/{sha}",
            "config_uri": f"http://127.0.0.1:8002/v1/artifacts/{sha}", "base_model": "tiny-llama",
            "dataset_snapshot_id": None, "dataset_sha256": None, "training_config": {}, "seed": None,
            "code_revision": None, "parent_version": None, "metrics": {}, "evaluation": None,
            "lineage": {"base_model": "tiny-llama", "parent_version": None, "dataset_snapshot_id": None,
                        "dataset_sha256": None, "code_revision": None, "seed": None},
            "suites": [], "served_requests": 0, "served_tokens": 0, "load_failures": 0, "request_id": None,
            "registered_by": "local-trainer", "registered_at": f"2025-01-0{number}T10:00:00+00:00",
            "retired_by": None, "retired_at": None, "erasure_pending": False, "erasures": [], **extra}


def base_model(name: str, *, version: str = "1", location: str = "/models", weights_sha256: str = "0" * 64,
               successor_of: str | None = None, **_: Any) -> dict[str, Any]:
    """A base model as the registry answers it (`BaseModelRecord`)."""
    return {"name": name, "version": version, "location": location, "weights_sha256": weights_sha256,
            "successor_of": successor_of, "created_by": "local-admin", "created_at": "2025-01-01T00:00:00+00:00"}


def drift_state(adapters: list[dict[str, Any]], policy: dict[str, Any] | None = None) -> dict[str, Any]:
    """`GET /v1/state` of the drift service (`DriftState`)."""
    return {"adapters": adapters, "policy": policy or {}, "rollout": {"settings": {}, "adapters": []}}


def support_adapter(aliases: dict[str, int] | None = None) -> dict[str, Any]:
    return {"name": "support", "base_model": "tiny-llama", "training_config": {},
            "promotion_policy": {"mode": "manual", "canary_weight": 0.1, "canary_min_requests": 100},
            "aliases": dict(aliases if aliases is not None else {"production": 2, "canary": 3}),
            "latest_version": 3, "created_by": "local-admin", "created_at": "2025-01-01T00:00:00+00:00"}


@dataclass
class Cli:
    fake: FakeServices
    settings: CliSettings

    def __call__(self, *args: str) -> Result:
        context = CliContext(settings=self.settings, transport=httpx.MockTransport(self.fake.handle),
                             sleep=lambda _s: None)
        return CliRunner().invoke(app, list(args), obj=context, env={"COLUMNS": "200"})

