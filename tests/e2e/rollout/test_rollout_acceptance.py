"""Safe rollout through the real stack: canary verdicts and the guard, decided from live ratings only.

Users ask through inference and rate through ingest; nobody calls `/served` or `canary/promote`.
The drift service's judge decides, the registry applies its decisions as compare-and-swap moves.
Each test uses its own adapter; figures are printed for the report (`-s`).
"""

from __future__ import annotations

import heapq
import json
from datetime import datetime
from typing import Any

from adaptloop_devstack.stack import Stack
from adaptloop_devstack.waiting import wait_for
from adaptloop_drift.offline import run
from adaptloop_drift.rollout.judge import RolloutConfig
from adaptloop_drift.rollout.trials import TrialRules
from rollout_testkit import (
    Registry,
    TrainedAdapters,
    Users,
    drift_policy,
    drift_rollout,
    pause_policy,
    topic_events,
)

# The e2e stack's judge settings (tests/e2e/conftest.py), for the offline replay.
STACK_RULES = TrialRules(graduate_after_requests=60, guard_window_events=3000)


def _start(stack: Stack, trained: TrainedAdapters, name: str, *, seed: int,
           pause: bool = True) -> tuple[Registry, Users]:
    """An `auto` adapter whose v1 (the good adapter) serves production."""
    registry = Registry(stack)
    registry.create_adapter(name, mode="auto")
    if pause:
        pause_policy(stack, name)
    registry.register(name, trained.good, note="v1")
    users = Users(stack, name, trained.questions, seed=seed)
    wait_for(f"inference to serve {name} v1", lambda: users.ask(1, rate=False)[0].version == "1", 90)
    return registry, users


def _served_by(users: Users, version: str) -> int:
    return sum(a.version == version for a in users.answers)


def _replay(stack: Stack, name: str) -> list[dict[str, Any]]:
    """The adapter's events from the three topics, merged in the order they happened, through the offline judge."""
    by_topic = [topic_events(stack, [t], name) for t in ("inference.logs", "inference.feedback", "registry.events")]
    merged = list(heapq.merge(*by_topic, key=lambda e: datetime.fromisoformat(e["occurred_at"])))
    lines = [json.dumps(e) for e in merged]
    (stack.config.home / f"replay-{name}.jsonl").write_text("\n".join(lines) + "\n")
    verdicts = run(lines, rollout_config=RolloutConfig(rules=STACK_RULES)).verdicts
    return [{"decision_id": str(v.decision_id), "action": v.action, "version": v.version} for v in verdicts]


def _assert_replay_gives_the_live_verdicts(stack: Stack, name: str) -> list[dict[str, Any]]:
    live = wait_for("the live verdict's delivery", lambda: (
        (r := drift_rollout(stack, name)) and r["verdicts"] and all(v["delivery"] != "pending" for v in r["verdicts"])
        and r["verdicts"]), 30)
    expected = [{"decision_id": v["decision_id"], "action": v["action"], "version": v["version"]} for v in live]
    assert _replay(stack, name) == expected, drift_rollout(stack, name)
    assert _replay(stack, name) == expected  # and again: the same verdicts, the same ids
    return live


def test_good_canary_graduates_from_live_traffic_alone(stack: Stack, trained: TrainedAdapters) -> None:
    name = "rl-canary-good"
    registry, users = _start(stack, trained, name, seed=1)
    users.ask(40)
    registry.set_mode(name, "canary", canary_weight=0.5)
    registry.register(name, trained.good, note="v2")  # the same weights: as good as production
    assert registry.aliases(name) == {"production": 1, "canary": 2}
    users.until("graduation", lambda: registry.aliases(name) == {"production": 2}, batch=12, limit=600)
    graduation = registry.history(name, "production")[-1]
    assert graduation["actor"] == "system:canary" and graduation["to_version"] == 2
    assert graduation["details"]["decision_id"]
    [verdict] = _assert_replay_gives_the_live_verdicts(stack, name)
    assert verdict["action"] == "graduate_canary" and verdict["delivery"] == "applied"
    assert verdict["decision_id"] == graduation["details"]["decision_id"]
    print(f"\n[rollout] good canary graduated: {verdict['evidence']['requests_served']} canary requests served "
          f"(rated {verdict['evidence']['new']['n']} canary / {verdict['evidence']['reference']['n']} production), "
          f"{_served_by(users, '2')} canary answers seen by users; reason: {verdict['reason']}")
    assert users.failures == []


def test_bad_canary_is_abandoned_and_production_never_moves(stack: Stack, trained: TrainedAdapters) -> None:
    name = "rl-canary-bad"
    registry, users = _start(stack, trained, name, seed=2)
    users.ask(40)
    registry.set_mode(name, "canary", canary_weight=0.5)
    registry.register(name, trained.bad, note="v2")
    users.until("the canary's removal", lambda: registry.aliases(name) == {"production": 1}, batch=12, limit=400)
    assert [m["to_version"] for m in registry.history(name, "production")] == [1]  # production never moved
    removal = registry.history(name, "canary")[-1]
    assert removal["actor"] == "system:canary" and removal["to_version"] is None
    assert registry.version(name, 2)["status"] == "rejected"
    [verdict] = _assert_replay_gives_the_live_verdicts(stack, name)
    assert verdict["action"] == "abandon_canary" and verdict["delivery"] == "applied"
    ev = verdict["evidence"]
    print(f"\n[rollout] bad canary abandoned after {ev['new']['n']} canary / {ev['reference']['n']} production "
          f"ratings (means {ev['new']['mean']} vs {ev['reference']['mean']}); "
          f"{len(users.answers)} requests, {len(users.failures)} failed")
    assert users.failures == []


def test_bad_version_under_auto_is_rolled_back_within_200_rated_events(stack: Stack,
                                                                         trained: TrainedAdapters) -> None:
    name = "rl-guard-bad"
    registry, users = _start(stack, trained, name, seed=3, pause=False)
    users.ask(80)
    registry.register(name, trained.bad, note="v2")  # auto: straight to production
    assert registry.aliases(name) == {"production": 2}
    users.until("the rollback", lambda: registry.aliases(name) == {"production": 1}, batch=10, limit=200)
    rated_after_promotion = _served_by(users, "2")
    assert rated_after_promotion <= 200
    rollback = registry.history(name, "production")[-1]
    assert (rollback["actor"], rollback["from_version"], rollback["to_version"]) == ("system:guard", 2, 1)
    assert registry.version(name, 2)["status"] == "rejected"
    [verdict] = _assert_replay_gives_the_live_verdicts(stack, name)
    assert verdict["action"] == "rollback_production"
    for key in ("mean", "n", "first_event", "last_event"):
        assert key in verdict["evidence"]["new"] and key in verdict["evidence"]["reference"]
    # The policy holds back: no retrain requested for this adapter on the evidence before the rollback.
    wait_for("the policy to learn of the rollback",
             lambda: (p := drift_policy(stack, name)) and p["rejected_versions"] == [2], 30)
    users.ask(40)
    assert topic_events(stack, ["retrain.requested"], name) == []
    ev = verdict["evidence"]
    print(f"\n[rollout] bad version rolled back: {ev['new']['n']} rated events of v2 when decided, "
          f"{rated_after_promotion} v2 answers rated by users before the rollback was served; means "
          f"{ev['new']['mean']} vs {ev['reference']['mean']} (reference n={ev['reference']['n']}); "
          f"{len(users.failures)} failed requests")
    assert users.failures == []


def test_good_version_under_auto_is_not_rolled_back_over_2000_rated_events(stack: Stack,
                                                                             trained: TrainedAdapters) -> None:
    name = "rl-guard-good"
    registry, users = _start(stack, trained, name, seed=4)
    users.ask(200)
    registry.register(name, trained.good, note="v2")
    wait_for("inference to serve v2", lambda: users.ask(1)[0].version == "2", 90)
    # Steady traffic on v2: real requests, each answer rated by seven users (as seven raters of one answer).
    answers = users.ask(300, rate=False)
    assert {a.version for a in answers} == {"2"}
    ratings = [{"model": name, "inference_event_id": a.event_id, "score": a.score} for a in answers] * 7
    users.rate(ratings)
    guard = wait_for("drift to take in every rating", lambda: (
        (r := drift_rollout(stack, name)) and r["guard"] and r["guard"]["new"]["n"] >= 2000 and r["guard"]), 120)
    assert guard["verdict"] is None and not guard["passed"]
    assert registry.aliases(name) == {"production": 2}
    assert drift_rollout(stack, name)["verdicts"] == []  # type: ignore[index]
    print(f"\n[rollout] steady run: {guard['new']['n']} rated events of v2 (mean {guard['new']['mean']}, "
          f"bounds {guard['new']['low']}..{guard['new']['high']}) vs reference {guard['reference']['mean']} "
          f"over {guard['reference']['n']}: 0 false rollbacks")
    assert users.failures == []
