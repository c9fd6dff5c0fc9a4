"""The rollout judge on seeded rating streams: exact verdict points, false alarms, traffic shifts, replays."""

from __future__ import annotations

import doctest
import json
import pickle
import random

import adaptloop_drift.rollout.sequential as sequential
from adaptloop_contracts import InferenceFeedback, InferenceLog, RegistryEvent
from adaptloop_contracts.registry_api import MAX_EVIDENCE_BYTES
from adaptloop_drift.monitor import AdapterMonitors, MonitorConfig
from adaptloop_drift.offline import run
from adaptloop_drift.rollout.judge import RolloutConfig, RolloutJudge
from adaptloop_drift.rollout.ratings import RatedEvent
from adaptloop_drift.rollout.trials import Arm, CanaryTrial, GuardTrial, TrialRules, Verdict
from rollout_streams import Traffic, interleaved

RULES = TrialRules(graduate_after_requests=300, guard_window_events=5000)
CONFIG = RolloutConfig(rules=RULES)


def test_doctests() -> None:
    assert doctest.testmod(sequential).failed == 0


def verdicts(traffic: Traffic, config: RolloutConfig = CONFIG) -> list[Verdict]:
    return run(traffic.lines(), rollout_config=config).verdicts


def canary_stream(seed: int, canary_mean: float, n: int = 1500) -> Traffic:
    t = Traffic("shop", seed=seed)
    t.move("production", 1, None)
    for _ in range(200):
        t.serve(1, 0.3)
    t.move("canary", 2, None)
    t.canary_period(n, weight=0.3, canary=2, canary_mean=canary_mean, production=1, production_mean=0.3)
    return t


def guard_stream(seed: int, new_mean: float, n: int = 2000) -> Traffic:
    t = Traffic("shop", seed=seed)
    t.move("production", 1, None)
    for _ in range(300):
        t.serve(1, 0.3)
    t.move("production", 2, 1)
    for _ in range(n):
        t.serve(2, new_mean)
    return t


def test_a_worse_canary_is_abandoned_at_the_minimum_sample() -> None:
    [v] = verdicts(canary_stream(1, -0.5))
    assert (v.action, v.version, v.previous_version) == ("abandon_canary", 2, 1)
    assert v.evidence["new"]["n"] == 30 and v.evidence["reference"]["n"] == 60
    assert v.evidence["difference"]["high"] < -RULES.tolerated_drop
    assert str(v.decision_id) == "c86fad05-eb65-5996-8b73-59ad3bd46dcd"


def test_a_good_canary_graduates_when_it_served_the_request_budget() -> None:
    [v] = verdicts(canary_stream(2, 0.3))
    assert (v.action, v.version, v.previous_version) == ("graduate_canary", 2, 1)
    assert v.evidence["requests_served"] == 300 and v.evidence["new"]["n"] == 300
    assert "without a significant drop" in v.reason


def test_a_good_canary_graduates_early_once_non_inferiority_is_shown() -> None:
    rules = TrialRules(tolerated_drop=0.2, graduate_after_requests=10_000)
    [v] = verdicts(canary_stream(2, 0.3), RolloutConfig(rules=rules))
    assert v.action == "graduate_canary" and v.evidence["difference"]["low"] > -0.2
    assert v.evidence["new"]["n"] == 165 and v.evidence["requests_served"] == 165


def test_a_worse_version_is_rolled_back_within_the_minimum_sample() -> None:
    [v] = verdicts(guard_stream(3, -0.4))
    assert (v.action, v.version, v.previous_version) == ("rollback_production", 2, 1)
    assert v.evidence["new"]["n"] == 30 and v.evidence["reference"]["n"] == 200
    for key in ("mean", "n", "first_event", "last_event", "served_from", "served_to"):
        assert key in v.evidence["new"] and key in v.evidence["reference"]
    assert v.evidence["threshold"] == -0.1 and "z" in v.evidence["difference"]
    assert len(json.dumps(v.evidence)) < MAX_EVIDENCE_BYTES
    v.request()  # the registry's body validates


def test_a_slightly_worse_version_within_the_tolerated_drop_is_kept() -> None:
    assert verdicts(guard_stream(5, 0.25)) == []


def test_a_good_version_is_never_rolled_back_over_long_steady_runs() -> None:
    """40 streams x 2,000 ratings of a version exactly as good as the one it replaced, and 40 canaries."""
    rules = TrialRules(guard_window_events=10**9, graduate_after_requests=10**9)
    false_rollbacks = false_abandons = 0
    for seed in range(40):
        rng = random.Random(seed)

        def rated(i: int, version: int, at: float, rng: random.Random = rng) -> RatedEvent:
            return RatedEvent(f"{i}", "a", version, max(-1.0, min(1.0, rng.gauss(0.3, 0.6))), at, at, i, i, True)

        guard = GuardTrial("a", 2, 1, 1000.0, "start", None, Arm(1), Arm(2), 200)
        for i in range(200):
            guard.reference.add(rated(i, 1, float(i)))
        false_rollbacks += any(guard.add(rated(i, 2, 1000.0 + i), rules) for i in range(2000))
        canary = CanaryTrial.start("a", 2, 1, 0.0, "start")
        for i in range(2000):
            verdict = canary.add(rated(i, 2 if rng.random() < 0.5 else 1, 1.0 + i), rules)
            false_abandons += verdict is not None and verdict.action == "abandon_canary"
    assert (false_rollbacks, false_abandons) == (0, 0)


def test_the_guard_stands_down_after_its_window() -> None:
    rules = TrialRules(guard_window_events=500)
    judge_config = RolloutConfig(rules=rules)
    t = guard_stream(4, 0.3, n=600)
    for _ in range(200):
        t.serve(2, -0.9)  # a regression after the window is the drift detectors' business, not the guard's
    assert verdicts(t, judge_config) == []


def test_reference_starts_at_the_last_trigger_drift_so_a_shift_is_not_a_regression() -> None:
    """v1 was rated 0.8 until the traffic moved, then -0.5; v2 (trained for the new traffic) gets -0.2 on it."""
    def stream() -> Traffic:
        t = Traffic("shop", seed=9)
        t.move("production", 1, None)
        for _ in range(300):
            t.serve(1, 0.8)
        for _ in range(60):
            t.serve(1, -0.5)
        return t

    shifted = stream()
    found = run(shifted.lines(), rollout_config=CONFIG).detections
    assert [d.signal for d in found] == ["quality_error"]  # the detectors saw the shift on v1
    shifted.move("production", 2, 1)
    for _ in range(400):
        shifted.serve(2, -0.2)
    [state] = _final_state(shifted)
    assert state["guard"]["reference"]["n"] == 40 and state["guard"]["new"]["n"] == 400
    assert verdicts(shifted) == []
    # Without the cut at the detection, the pre-shift ratings would have condemned v2:
    uncut = RolloutConfig(rules=RULES, trigger_signals=frozenset())
    [v] = verdicts(shifted, uncut)
    assert v.action == "rollback_production" and v.evidence["reference"]["n"] == 200


def _final_state(traffic: Traffic) -> list[dict]:  # type: ignore[type-arg]
    from adaptloop_drift.handlers import handle_feedback, handle_inference_log
    monitors = AdapterMonitors(MonitorConfig())
    judge = RolloutJudge(CONFIG, monitors.served)
    for e in traffic.events:
        if isinstance(e, InferenceLog):
            found = handle_inference_log(e, monitors=monitors, max_adapters=10)
            judge.observe_log(e.model, e)
        elif isinstance(e, InferenceFeedback):
            found = handle_feedback(e, monitors=monitors, max_adapters=10)
            judge.observe_feedback(e.model, e)
        else:
            found = []
            judge.observe_registry(e)
        for d in found:
            judge.observe_detection(d)
    return judge.snapshot()


def test_verdicts_do_not_depend_on_how_the_topics_interleave() -> None:
    for stream in (canary_stream(1, -0.5), canary_stream(2, 0.3), guard_stream(3, -0.4)):
        [expected] = verdicts(stream)
        for seed in range(2):
            mixed = [e.model_dump_json() for e in interleaved(stream.events, seed)]
            [got] = run(mixed, rollout_config=CONFIG).verdicts
            assert got.decision_id == expected.decision_id and got.evidence == expected.evidence


def test_the_registry_answer_to_a_verdict_taken_early_in_a_replay_changes_nothing() -> None:
    """Replays may take the registry's moves (caused by the verdict) before the ratings that led to it."""
    answers = {
        "abandon_canary": [("canary", None, 2, "system:canary")],
        "graduate_canary": [("production", 2, 1, "system:canary"), ("canary", None, 2, "system:canary")],
        "rollback_production": [("production", 1, 2, "system:guard")],
    }
    for stream in (canary_stream(1, -0.5), canary_stream(2, 0.3), guard_stream(3, -0.4)):
        [expected] = verdicts(stream)
        start = max(i for i, e in enumerate(stream.events) if isinstance(e, RegistryEvent))
        moves = [stream.move(*answer) for answer in answers[expected.action]]
        early = stream.events[:start + 1] + moves + stream.events[start + 1:-len(moves)]
        [got] = run([e.model_dump_json() for e in early], rollout_config=CONFIG).verdicts
        assert got.decision_id == expected.decision_id
        monitors = AdapterMonitors(MonitorConfig())
        judge = RolloutJudge(CONFIG, monitors.served)
        for e in early:
            if isinstance(e, InferenceLog):
                monitors.observe_log("shop", e)
                judge.observe_log("shop", e)
            elif isinstance(e, InferenceFeedback):
                judge.observe_feedback("shop", e)
            else:
                judge.observe_registry(e)
        assert judge.holding == len(moves)  # later than every rating: held while more ratings could come
        assert judge.caught_up() == []  # the topics were read to their end: the moves apply
        [state] = judge.snapshot()
        assert state["closed_trials"][0]["verdict"]["decision_id"] == str(expected.decision_id)


def test_a_checkpoint_mid_trial_gives_the_same_verdict() -> None:
    def feed(monitors: AdapterMonitors, judge: RolloutJudge, events: list) -> list[Verdict]:  # type: ignore[type-arg]
        out: list[Verdict] = []
        for e in events:
            if isinstance(e, InferenceLog):
                monitors.observe_log("shop", e)
                out += judge.observe_log("shop", e)
            elif isinstance(e, InferenceFeedback):
                monitors.observe_feedback("shop", e)
                out += judge.observe_feedback("shop", e)
            elif isinstance(e, RegistryEvent):
                out += judge.observe_registry(e)
        return out

    events = guard_stream(3, -0.4).events
    monitors = AdapterMonitors(MonitorConfig())
    judge = RolloutJudge(CONFIG, monitors.served)
    cut = 300 * 2 + 2 + 20
    assert feed(monitors, judge, events[:cut]) == []
    blob = pickle.dumps({"monitors": monitors, "rollout": judge})
    restored = pickle.loads(blob)
    assert restored["rollout"].served is restored["monitors"].served
    [v] = feed(restored["monitors"], restored["rollout"], events[cut:])
    [expected] = verdicts(guard_stream(3, -0.4))
    assert v.decision_id == expected.decision_id


def test_canary_against_the_base_model_when_there_is_no_production() -> None:
    t = Traffic("fresh", seed=11)
    t.move("canary", 1, None)
    t.canary_period(400, weight=0.5, canary=1, canary_mean=-0.6, production=None, production_mean=0.2)
    [v] = verdicts(t)
    assert (v.action, v.version, v.previous_version) == ("abandon_canary", 1, None)
    assert "the base model" in v.reason


def test_state_shows_trials_and_closed_ones() -> None:
    t = canary_stream(2, 0.3)
    t.move("production", 2, 1, actor="system:canary")
    t.move("canary", None, 2, actor="system:canary")
    monitors = AdapterMonitors(MonitorConfig())
    judge = RolloutJudge(CONFIG, monitors.served)
    for line in t.lines():
        payload = json.loads(line)
        if payload["event_type"] == "inference.log":
            log = InferenceLog.from_payload(payload)
            monitors.observe_log("shop", log)
            judge.observe_log("shop", log)
        elif payload["event_type"] == "inference.feedback":
            judge.observe_feedback("shop", InferenceFeedback.from_payload(payload))
        else:
            judge.observe_registry(RegistryEvent.from_payload(payload))
    [state] = judge.snapshot()
    assert state["production"] == 1 and [m["actor"] for m in state["held_moves"]] == ["system:canary"] * 2
    judge.caught_up()  # no rating came after the moves: they apply once the topics were read to their end
    [state] = judge.snapshot()
    assert state["production"] == 2 and state["canary"] is None and state["canary_trial"] is None
    assert state["guard"]["version"] == 2 and state["guard"]["previous_version"] == 1
    assert [c["outcome"] for c in state["closed_trials"]] == ["graduated by system:canary"]
    assert state["verdicts"][0]["action"] == "graduate_canary"
