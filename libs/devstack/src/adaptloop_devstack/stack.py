"""The local stack as background processes: broker, topics, databases and the five services.

`python -m adaptloop_devstack.stack up|down|status`. Logs go to `var/log/<name>.log`, pid files
to `var/run/<name>.pid`; `down` stops exactly the processes whose pid files `up` wrote. The same
`Stack` runs an isolated copy on free ports for the end-to-end tests and the demo.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from adaptloop_contracts import TopicNames

from adaptloop_devstack.auth_tokens import StackTokens
from adaptloop_devstack.broker import BrokerStartError, find_tansu, port_open
from adaptloop_devstack.paths import repo_root, var_dir, venv_python
from adaptloop_devstack.postgres import database_oid, ensure_database, sqlalchemy_url

DEFAULT_PORTS = {
    "kafka": 9092,
    "inference": 8000,
    "ingest": 8001,
    "registry": 8002,
    "trainer": 8003,
    "drift": 8004,
    "dashboard": 8005,
}
SERVICE_ENV = {
    "registry": "stream",
    "ingest": "stream",
    "drift": "stream",
    "trainer": "model",
    "inference": "model",
    "dashboard": "stream",
}
START_ORDER = ("registry", "ingest", "drift", "trainer", "inference", "dashboard")
BASE_MODEL = "tiny-llama"
STATE_DIRS = ("registry", "trainer", "drift", "inference")
"""What the services keep on disk next to the database: artifacts, job checkpoints, drift checkpoints, caches."""

log = logging.getLogger(__name__)


class StackError(RuntimeError):
    pass


def process_running(pid: int) -> bool:
    """Whether `pid` is a live process (an exited child is reaped; a zombie counts as gone)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


@dataclass
class StackConfig:
    """Where one copy of the stack lives and listens."""

    home: Path = field(default_factory=var_dir)
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    topic_prefix: str = ""
    database: str = "adaptloop"
    models_dir: Path = field(default_factory=lambda: var_dir() / "models")
    base_model: str = BASE_MODEL
    extra_env: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 240.0

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['kafka']}"


class Stack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.run_dir = self.config.home / "run"
        self.log_dir = self.config.home / "log"
        self.tokens = StackTokens.load_or_create(self.config.home / "secrets" / "tokens.json")

    # -- processes -------------------------------------------------------------------------
    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=repo_root(), start_new_session=True
        )
        self._pid_file(name).write_text(str(proc.pid))
        return proc.pid

    def pid_of(self, name: str) -> int | None:
        """The pid of a running part of this stack (None when it is not running)."""
        return self._alive(name)

    def _alive(self, name: str) -> int | None:
        try:
            pid = int(self._pid_file(name).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if process_running(pid) else None

    # -- parts -----------------------------------------------------------------------------
    def start_broker(self) -> None:
        if self._alive("broker"):
            return
        port = self.config.ports["kafka"]
        if port_open("127.0.0.1", port):
            raise StackError(f"port {port} is taken by a process this stack did not start; stop it or set another port")
        url = f"tcp://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        try:
            binary = find_tansu()
        except BrokerStartError as exc:
            raise StackError(str(exc)) from exc
        self._spawn(
            "broker",
            [
                str(binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            env,
        )
        from adaptloop_kafka import ensure_topics, wait_for_broker

        wait_for_broker(self.config.bootstrap, timeout_s=30)
        ensure_topics(self.config.bootstrap, TopicNames(self.config.topic_prefix).all_with_partitions())

    def service_env(self, name: str, dsn: str) -> dict[str, str]:
        """Every setting a service needs, as environment variables with its prefix."""
        cfg = self.config
        home = cfg.home
        db_url = sqlalchemy_url(dsn)
        common = {
            "KAFKA_BOOTSTRAP": cfg.bootstrap,
            "TOPIC_PREFIX": cfg.topic_prefix,
            "HOST": "127.0.0.1",
            "PORT": str(cfg.ports[name]),
            "TOKENS": self.tokens.digest_spec(),
        }
        specific: dict[str, dict[str, str]] = {
            # One worker: on two cores it serves more alias reads than two (docs/registry.md, Throughput).
            "registry": {"DATABASE_URL": db_url, "ARTIFACT_DIR": str(home / "registry" / "artifacts"), "WORKERS": "1"},
            "ingest": {"DATABASE_URL": db_url, "REGISTRY_URL": cfg.url("registry"), "TRAINER_URL": cfg.url("trainer")},
            "drift": {
                "DATA_DIR": str(home / "drift"),
                "REGISTRY_URL": cfg.url("registry"),
                "REGISTRY_TOKEN": self.tokens.token("trainer"),
            },
            "trainer": {
                "DATABASE_URL": db_url,
                "REGISTRY_URL": cfg.url("registry"),
                "REGISTRY_TOKEN": self.tokens.token("trainer"),
                "INGEST_URL": cfg.url("ingest"),
                "INGEST_TOKEN": self.tokens.token("trainer"),
                "MODELS_DIR": str(cfg.models_dir),
                "WORK_DIR": str(home / "trainer"),
            },
            "inference": {
                "REGISTRY_URL": cfg.url("registry"),
                "REGISTRY_TOKEN": self.tokens.token("trainer"),
                "MODELS_DIR": str(cfg.models_dir),
                "BASE_MODEL": cfg.base_model,
                "ADAPTER_CACHE_DIR": str(home / "inference" / "adapters"),
            },
            "dashboard": {
                "REGISTRY_URL": cfg.url("registry"),
                "TRAINER_URL": cfg.url("trainer"),
                "DRIFT_URL": cfg.url("drift"),
                "INFERENCE_URL": cfg.url("inference"),
            },
        }
        prefix = f"ADAPTLOOP_{name.upper()}_"
        env = dict(os.environ)
        env.update({prefix + k: v for k, v in {**common, **specific[name]}.items()})
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        if name == "trainer":
            # On one host the CPU engine binds its workers to every core but the one it reserves
            # (VLLM_CPU_NUM_OF_RESERVED_CPU, default 1); training on more threads than that makes
            # both wait on each other's cores and runs many times slower under traffic.
            env.setdefault("ADAPTLOOP_TRAINER_TORCH_THREADS", env.get("VLLM_CPU_NUM_OF_RESERVED_CPU", "1"))
        env.setdefault("OTEL_SERVICE_NAME", f"adaptloop-{name}")
        env.update(cfg.extra_env)
        return env

    def start_service(self, name: str, dsn: str) -> None:
        if self._alive(name):
            return
        port = self.config.ports[name]
        if port_open("127.0.0.1", port):
            raise StackError(f"port {port} for {name} is taken by a process this stack did not start")
        python = venv_python(SERVICE_ENV[name])
        if not python.exists():
            raise StackError(f"{python} missing: run `make setup` first")
        self._spawn(name, [str(python), "-m", f"adaptloop_{name}"], self.service_env(name, dsn))

    def wait_ready(self, name: str, deadline: float) -> None:
        url = self.config.url(name) + "/readyz"
        last = "no answer"
        while time.monotonic() < deadline:
            if not self._alive(name):
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise StackError(f"{name} exited during start; last log lines:\n{tail}")
            try:
                resp = httpx.get(url, timeout=2.0)
                if resp.status_code == 200:
                    return
                last = f"{resp.status_code} {resp.text[:300]}"
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.5)
        raise StackError(f"{name} not ready at {url} within {self.config.ready_timeout_s}s: {last}")

    # -- whole stack -----------------------------------------------------------------------
    def reset_state_if_database_reset(self, existed_before: bool) -> list[str]:
        """The state on disk belongs to one database: when that database is new or was recreated since the
        last start, drop the drift checkpoints, trainer work, adapter cache and artifact store with it."""
        marker = self.config.home / "state" / "database.json"
        identity = {"database": self.config.database, "oid": database_oid(self.config.database)}
        try:
            recorded = json.loads(marker.read_text())
        except (OSError, ValueError):
            recorded = None
        reset = recorded != identity if recorded is not None else not existed_before
        wiped = []
        if reset and not any(self._alive(name) for name in START_ORDER):
            for sub in STATE_DIRS:
                if (self.config.home / sub).exists():
                    shutil.rmtree(self.config.home / sub)
                    wiped.append(sub)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(identity))
        return wiped

    def register_local_base_model(self) -> bool:
        """Register the stack's base model (from its manifest.json) unless the registry knows it; True if it did."""
        name = self.config.base_model
        path = self.config.models_dir / name / "manifest.json"
        if not path.is_file():
            log.warning("base model %s not registered: %s missing (run `make model`)", name, path)
            return False
        manifest = json.loads(path.read_text())
        response = httpx.post(self.config.url("registry") + "/v1/base-models", timeout=30,
                              headers={"Authorization": f"Bearer {self.tokens.token('admin')}"},
                              json={"name": name, "version": str(manifest["weights_sha256"])[:12],
                                    "location": str(self.config.models_dir / name),
                                    "weights_sha256": manifest["weights_sha256"],
                                    "reason": "the local stack's base model"})
        if response.status_code == 409:
            return False
        if response.status_code != 201:
            raise StackError(f"registering base model {name}: {response.status_code} {response.text[:300]}")
        return True

    def up(self, *, services: tuple[str, ...] = START_ORDER, progress: bool = False) -> None:
        self.start_broker()
        existed = database_oid(self.config.database) is not None
        dsn = ensure_database(self.config.database)
        wiped = self.reset_state_if_database_reset(existed)
        if progress and wiped:
            print(f"  the database is new: cleared {', '.join(wiped)} state under {self.config.home}", flush=True)
        deadline = time.monotonic() + self.config.ready_timeout_s
        # The registry first (others read from it); the rest start in parallel.
        first, rest = [s for s in services if s == "registry"], [s for s in services if s != "registry"]
        for group in (first, rest):
            for name in group:
                self.start_service(name, dsn)
                if progress:
                    print(f"  started {name} (pid {self._alive(name)})", flush=True)
            for name in group:
                self.wait_ready(name, deadline)
                if progress:
                    print(f"  {name:<9} ready at {self.config.url(name)}", flush=True)

    def down(self, timeout_s: float = 20.0) -> list[str]:
        """Stop the services (SIGTERM, then SIGKILL after `timeout_s`), then the broker.

        The broker goes last so the services can commit offsets and leave their groups cleanly.
        """
        stopped = self._stop([name for name in reversed(START_ORDER) if self._alive(name)], timeout_s)
        if self._alive("broker"):
            stopped += self._stop(["broker"], timeout_s)
        for name in (*START_ORDER, "broker"):
            self._pid_file(name).unlink(missing_ok=True)
        return stopped

    def _stop(self, names: list[str], timeout_s: float) -> list[str]:
        for name in names:
            pid = self._alive(name)
            if pid:
                with contextlib.suppress(ProcessLookupError):  # it exited on its own meanwhile
                    os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for name in names:
            while self._alive(name) and time.monotonic() < deadline:
                time.sleep(0.1)
            pid = self._alive(name)
            if pid:
                log.warning("%s (pid %s) did not stop within %.0f s of SIGTERM: killing it", name, pid, timeout_s)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                kill_deadline = time.monotonic() + 10.0
                while self._alive(name) and time.monotonic() < kill_deadline:
                    time.sleep(0.05)
        return names

    def status(self) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {"broker": {"pid": self._alive("broker"), "address": self.config.bootstrap}}
        for name in START_ORDER:
            ready: object = None
            try:
                ready = httpx.get(self.config.url(name) + "/readyz", timeout=2.0).status_code == 200
            except httpx.HTTPError:
                ready = False
            out[name] = {"pid": self._alive(name), "url": self.config.url(name), "ready": ready}
        return out


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    stack = Stack()
    if command == "up":
        print("adaptloop: starting the local stack", flush=True)
        try:
            stack.up(progress=True)
            if stack.register_local_base_model():
                print(f"  registered base model {stack.config.base_model}", flush=True)
        except Exception as exc:
            print(f"adaptloop: the stack did not come up: {exc}", file=sys.stderr)
            return 1
        print(f"  kafka     {stack.config.bootstrap}")
        print(f"  tokens    {stack.tokens.path} (admin, trainer, reader)")
        return 0
    if command == "down":
        stopped = stack.down()
        print("adaptloop: stopped " + (", ".join(stopped) if stopped else "nothing (no stack running)"))
        return 0
    if command == "status":
        print(json.dumps(stack.status(), indent=2))
        return 0
    print(f"usage: python -m adaptloop_devstack.stack up|down|status (got {command!r})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
