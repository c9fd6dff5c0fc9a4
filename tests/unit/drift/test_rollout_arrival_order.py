"""The judge's verdict does not depend on which of its three topics the consumer happened to read first."""

from __future__ import annotations

from adaptloop_contracts import Event, InferenceFeedback, InferenceLog, RegistryEvent
from adaptloop_drift.monitor import AdapterMonitors, MonitorConfig
from adaptloop_drift.rollout.judge import RolloutConfig, RolloutJudge
from adaptloop_drift.rollout.trials import TrialRules, Verdict
from rollout_streams import Traffic

CONFIG = RolloutConfig(rules=TrialRules(guard_window_events=5000))


def promotion() -> Traffic:
    """v1 rated 0.3 over 300 requests, then production moves to v2, rated -0.4."""
    t = Traffic("shop", seed=3)
    t.move("production", 1, None)
    for _ in range(300):
        t.serve(1, 0.3)
    t.move("production", 2, 1)
    for _ in range(400):
        t.serve(2, -0.4)
    return t


def feed(events: list[Event]) -> tuple[list[Verdict], RolloutJudge]:
    """What the signal consumer does with each message, in the order given."""
    monitors = AdapterMonitors(MonitorConfig())
    judge = RolloutJudge(CONFIG, monitors.served)
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
    return out + judge.caught_up(), judge


def of(events: list[Event], kind: type) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def test_a_move_read_before_the_previous_versions_ratings_gives_the_same_guard_verdict() -> None:
    events = promotion().events
    moves, logs, ratings = of(events, RegistryEvent), of(events, InferenceLog), of(events, InferenceFeedback)
    orders = {
        "ratings first (time order)": events,
        "moves first": moves + [e for e in events if not isinstance(e, RegistryEvent)],
        # the burst of the integration test: the move handled after 45 of v1's 300 ratings
        "move after 45 ratings": [moves[0], *logs[:45], *ratings[:45], moves[1], *logs[45:], *ratings[45:]],
        # the feedback topic fetched far ahead of the logs (no rating may be given up on for that)
        "ratings before their logs": moves + ratings + logs,
    }
    results = {name: feed(order)[0] for name, order in orders.items()}
    [expected] = results.pop("ratings first (time order)")
    assert expected.action == "rollback_production"
    assert (expected.evidence["new"]["n"], expected.evidence["reference"]["n"]) == (30, 200)
    for name, got in results.items():
        assert [(v.decision_id, v.evidence["new"]["n"], v.evidence["reference"]["n"]) for v in got] == [
            (expected.decision_id, 30, 200)], name
        assert got[0].evidence == expected.evidence, name


def test_a_move_waits_for_the_ratings_of_its_time_and_shows_as_held() -> None:
    events = promotion().events
    move = of(events, RegistryEvent)[1]
    before = events[:events.index(move)]
    _, judge = feed([])
    for e in [*before[:1], move, *before[1:5]]:
        if isinstance(e, InferenceLog):
            judge.served.record("shop", e)
            judge.observe_log("shop", e)
        elif isinstance(e, InferenceFeedback):
            judge.observe_feedback("shop", e)
        else:
            judge.observe_registry(e)
    [state] = judge.snapshot()
    assert state["production"] == 1 and state["guard"] is None
    assert [m["version"] for m in state["held_moves"]] == [2]
    assert judge.holding == 1
