"""One-shot `register` of the compose stack: the base model and a first adapter, so the loop has something to serve.

Reads /models/<ADAPTLOOP_BASE_MODEL>/manifest.json (the sha256 of the weights), registers the base model
and creates the adapter ADAPTLOOP_FIRST_ADAPTER with automatic promotion, as the admin
(ADAPTLOOP_ADMIN_TOKEN). Whatever is already registered is left as it is, so running it again is harmless.
Standard library only: it runs in any of the stream images.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REGISTRY = os.environ.get("REGISTRY_URL", "http://registry:8002").rstrip("/")
TOKEN = os.environ["ADAPTLOOP_ADMIN_TOKEN"]
BASE = os.environ.get("ADAPTLOOP_BASE_MODEL", "tiny-llama")
ADAPTER = os.environ.get("ADAPTLOOP_FIRST_ADAPTER", "support")
MODELS = Path(os.environ.get("MODELS_DIR", "/models"))
READY_TIMEOUT_S = float(os.environ.get("REGISTRY_READY_TIMEOUT_S", "300"))


def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(REGISTRY + path, data=data, method=method, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_until_ready() -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            if call("GET", "/readyz")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"register: the registry at {REGISTRY} was not ready within {READY_TIMEOUT_S:.0f}s")
        time.sleep(1)


def ensure(kind: str, path: str, body: dict) -> None:
    status, answer = call("GET", f"{path}/{body['name']}")
    if status == 200:
        print(f"register: {kind} {body['name']} already registered")
        return
    status, answer = call("POST", path, body)
    if status != 201:
        sys.exit(f"register: registering {kind} {body['name']} failed with HTTP {status}: {answer}")
    print(f"register: {kind} {body['name']} registered")


def main() -> None:
    manifest_path = MODELS / BASE / "manifest.json"
    if not manifest_path.is_file():
        sys.exit(f"register: {manifest_path} is missing: put the base model under ./var/models/{BASE} (make model)")
    manifest = json.loads(manifest_path.read_text())
    wait_until_ready()
    ensure("base model", "/v1/base-models", {"name": BASE, "version": "1", "location": BASE,
                                              "weights_sha256": manifest["weights_sha256"]})
    ensure("adapter", "/v1/adapters", {"name": ADAPTER, "base_model": BASE, "promotion_policy": {"mode": "auto"}})


if __name__ == "__main__":
    main()
