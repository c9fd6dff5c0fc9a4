"""Sixteen clients stream and poll for a minute while production is promoted ten times: nothing fails,
every response is exactly the greedy output of the version its header names, and afterwards the
engine holds only the version an alias points at."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx
from inference_stack import PROMPTS, InferenceService, LoraFactory, Registry, complete, wait_until

CLIENTS = 16
PROMOTIONS = 10
DURATION_S = float(os.environ.get("ADAPTLOOP_TEST_SWAP_LOAD_SECONDS", "60"))
MAX_TOKENS = 12


@dataclass(frozen=True)
class Outcome:
    prompt: int
    version: str
    text: str
    streamed: bool


def _request(http: httpx.Client, url: str, model: str, prompt: int, *, stream: bool) -> Outcome:
    body = {"model": model, "prompt": PROMPTS[prompt], "max_tokens": MAX_TOKENS, "temperature": 0, "stream": stream}
    if not stream:
        response = http.post(f"{url}/v1/completions", json=body)
        response.raise_for_status()
        return Outcome(prompt, response.headers["x-adaptloop-adapter-version"],
                       response.json()["choices"][0]["text"], False)
    with http.stream("POST", f"{url}/v1/completions", json=body) as response:
        response.raise_for_status()
        version = response.headers["x-adaptloop-adapter-version"]
        text, done = "", False
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                continue
            payload = json.loads(line[6:])
            if "error" in payload:
                raise AssertionError(f"stream error: {payload}")
            text += payload["choices"][0]["text"]
        if not done:
            raise AssertionError("stream ended without [DONE]")
    return Outcome(prompt, version, text, True)


def test_ten_promotions_under_sixteen_clients(
    inference: InferenceService, registry: Registry, loras: LoraFactory, adapter_name: str,
) -> None:
    versions = [registry.register_version(adapter_name, loras.adapter(600 + i)) for i in range(PROMOTIONS + 1)]
    references = {
        str(v): [complete(inference.url, f"{adapter_name}@{v}", p, max_tokens=MAX_TOKENS)[0] for p in PROMPTS]
        for v in versions
    }
    assert len({tuple(r) for r in references.values()}) == len(versions), "adapters must answer differently"
    registry.move_alias(adapter_name, "production", versions[0])
    wait_until(lambda: complete(inference.url, adapter_name, PROMPTS[0])[1] == str(versions[0]), timeout_s=15,
               what="first version serving")

    outcomes: list[Outcome] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(index: int) -> None:
        with httpx.Client(timeout=120) as http:
            n = 0
            while not stop.is_set():
                try:
                    outcome = _request(http, inference.url, adapter_name, (index + n) % len(PROMPTS),
                                       stream=(index + n) % 2 == 0)
                    with lock:
                        outcomes.append(outcome)
                except Exception as exc:
                    with lock:
                        failures.append(f"client {index}: {type(exc).__name__}: {exc}")
                n += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    interval = DURATION_S / (PROMOTIONS + 1)
    for version in versions[1:]:
        time.sleep(max(0.0, started + interval * versions.index(version) - time.monotonic()))
        registry.move_alias(adapter_name, "production", version)
    time.sleep(max(0.0, started + DURATION_S - time.monotonic()))

    def last_served() -> bool:
        with lock:
            return any(o.version == str(versions[-1]) for o in outcomes)

    # the clients keep going until the last promotion has taken effect (its swap runs under their load)
    wait_until(last_served, timeout_s=120, what=f"version {versions[-1]} served under load")
    stop.set()
    for thread in threads:
        thread.join(180)
    assert not any(t.is_alive() for t in threads)

    assert failures == []
    assert len(outcomes) >= CLIENTS * 2
    served = Counter(o.version for o in outcomes)
    assert set(served) <= set(references), f"unknown versions in headers: {served}"
    wrong = [o for o in outcomes if o.text != references[o.version][o.prompt]]
    assert wrong == [], f"{len(wrong)} responses differ from their version's reference: {wrong[:3]}"
    assert str(versions[-1]) in served and len(served) >= 3, f"too few versions observed: {served}"
    assert any(o.streamed for o in outcomes) and any(not o.streamed for o in outcomes)

    final = f"{adapter_name}@{versions[-1]}"
    wait_until(lambda: [e["version"] for e in inference.state()["loaded"] if e["version"].startswith(adapter_name)]
               == [final], timeout_s=20, what="only the production version loaded")
    engine = [n for n in inference.state()["engine_loras"] if n.startswith(f"{adapter_name}@")]
    assert engine == [final]
