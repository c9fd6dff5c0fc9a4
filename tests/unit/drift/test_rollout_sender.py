"""DecisionSender against a fake registry transport: applied, duplicate, stale 409, retried 503, unreachable."""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx
from adaptloop_drift.infra.registry_decisions import DecisionSender
from adaptloop_drift.rollout.trials import Verdict


def verdict(n: int = 1) -> Verdict:
    return Verdict(uuid.UUID(int=n), "shop", "rollback_production", 3, 2, "v3 rated lower", {"n": 30}, 0.0)


def sender(handler, attempts: int = 3, outcomes: list | None = None) -> DecisionSender:  # type: ignore[no-untyped-def,type-arg]
    return DecisionSender(base_url="http://registry", token="t0k", timeout_s=1.0, attempts=attempts,
                          max_backoff_s=0.01, transport=httpx.MockTransport(handler),
                          on_outcome=lambda *a: (outcomes if outcomes is not None else []).append(a))


def test_applied_duplicate_and_stale_are_told_apart() -> None:
    calls: list[httpx.Request] = []
    answers = iter([httpx.Response(201, json={"duplicate": False}), httpx.Response(200, json={"duplicate": True}),
                    httpx.Response(409, json={"detail": "alias 'production' of 'shop' points at 4, not 3"})])

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return next(answers)

    s = sender(handler)
    assert s.deliver(verdict()) == ("applied", None)
    assert s.deliver(verdict()) == ("duplicate", None)
    assert s.deliver(verdict()) == ("stale", "alias 'production' of 'shop' points at 4, not 3")
    assert len(calls) == 3  # a 409 is not retried
    body = json.loads(calls[0].content)
    assert calls[0].url.path == "/v1/adapters/shop/rollout-decisions"
    assert calls[0].headers["authorization"] == "Bearer t0k"
    assert body["decision_id"] == str(uuid.UUID(int=1)) and body["previous_version"] == 2


def test_transient_failures_are_retried_then_given_up() -> None:
    answers = iter([httpx.Response(503), httpx.Response(201, json={})])
    assert sender(lambda r: next(answers)).deliver(verdict()) == ("applied", None)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    outcome, detail = sender(down, attempts=2).deliver(verdict())
    assert outcome == "failed" and "unreachable" in (detail or "")
    assert sender(lambda r: httpx.Response(422, json={"detail": "bad"})).deliver(verdict()) == ("refused", "422: bad")


def test_the_worker_delivers_each_decision_once_in_order() -> None:
    seen: list[str] = []
    done = threading.Event()
    outcomes: list = []  # type: ignore[type-arg]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["decision_id"])
        if len(seen) == 2:
            done.set()
        return httpx.Response(201, json={})

    s = sender(handler, outcomes=outcomes)
    s.start()
    try:
        for v in (verdict(1), verdict(1), verdict(2)):
            s.submit(v)
        assert done.wait(5)
        deadline = time.monotonic() + 5
        while len(outcomes) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        s.stop()
    assert seen == [str(uuid.UUID(int=1)), str(uuid.UUID(int=2))]
    assert [o[1] for o in outcomes] == ["applied", "applied"]
