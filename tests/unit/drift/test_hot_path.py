"""The hot path's shortcuts give the results of the general code: novelty features, the rating join,
the judge without a trial, the record types' pickles, the model-name checks."""

from __future__ import annotations

import pickle
import random
import uuid
from datetime import timedelta
from typing import Any

import adaptloop_drift.events as events
import adaptloop_drift.handlers as handlers
import adaptloop_drift.novelty as novelty
import pytest
from adaptloop_contracts import InferenceFeedback
from adaptloop_drift.errors import UnmonitoredEvent
from adaptloop_drift.monitor import AdapterMonitors, MonitorConfig
from adaptloop_drift.offline import run
from adaptloop_drift.rollout import ratings
from adaptloop_drift.rollout.judge import RolloutConfig, RolloutJudge
from adaptloop_drift.rollout.ratings import RatedEvent, RatingQueue, ServedLogs, ServedRequest
from adaptloop_drift.rollout.trials import TrialRules
from adaptloop_drift.synthetic import make_feedback, make_log
from adaptloop_scenarios.corpus import generate_pairs
from rollout_streams import T0, Traffic, interleaved


def _random_prompts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "aZq09 #-_.,?!'\t\n\x00\x0b\x7fXy5"
    prompts = ["", "1", "ab12cd 3 x#y 45# #9", "AB##12", "a" + "7" * 17 + "b", "w " * 300, "9a9 Q2 FY2026",
               "x" * 64, "Y" * 65 + " z", "q" * 200 + "7" * 3 + "r" * 129]  # words across the C code's 64-byte chunks
    prompts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(count)]
    for domain in ("capital_markets", "automotive", "security_ops"):
        prompts += [p.prompt for p in generate_pairs(domain, 300, seed=1)]
    return prompts


def test_ascii_prompts_are_hashed_without_the_regex_to_the_same_features(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = _random_prompts(7, 5000)
    expected = {(p, m): novelty._reference_features(p, m) for p in prompts for m in (256, 5, 1, 0)}

    def regex_path(prompt: str, max_tokens: int = 256) -> list[int]:
        raise AssertionError(f"ASCII prompt took the regex path: {prompt!r}")

    monkeypatch.setattr(novelty, "_reference_features", regex_path)
    for (prompt, max_tokens), feats in expected.items():
        assert novelty.prompt_features(prompt, max_tokens) == feats, (prompt, max_tokens)


def test_the_c_extension_is_built_in_this_environment() -> None:
    # Optional for an install without a compiler; the test environment must exercise it.
    assert novelty.NATIVE, "adaptloop_drift._novelty was not built (is a C compiler with Python headers installed?)"


def test_the_c_extension_hashes_ascii_prompts_as_the_definition_does() -> None:
    for prompt in _random_prompts(11, 5000):
        for max_tokens in (256, 5, 1, 0):
            assert sorted(novelty._novelty.features(prompt, max_tokens)) == sorted(
                novelty._reference_features(prompt, max_tokens)), (prompt, max_tokens)
    assert novelty._novelty.features("Café 12", 256) is None  # non-ASCII: the Python definition's


def _python_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(novelty, "_novelty", None)


def test_the_extension_is_switched_off_and_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(novelty, "_novelty", novelty._novelty)  # restored after the test
    vocab = novelty.ReferenceVocabulary(reference_prompts=1, bits=1 << 10).update("the bond book")

    def c_path(*args: Any) -> float:
        raise AssertionError("the C extension was used while switched off")

    assert novelty.use_native(False) is False
    with monkeypatch.context() as patched:
        patched.setattr(novelty._built, "novelty", c_path)
        assert vocab.novelty("the bond margin") == 0.4  # "margin", "bond margin" of 5 n-grams
    assert novelty.use_native(True) is True
    assert novelty._novelty is novelty._built


def test_the_c_extension_fills_and_reads_the_reference_as_the_python_code_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = [*_random_prompts(12, 600), "Café au lait 12", "naïve—résumé 3 days"]
    references = [*prompts[:400:2], "Café crème, 2 cups"]
    native = novelty.ReferenceVocabulary(reference_prompts=len(references), bits=1 << 12)
    for prompt in references:
        native.update(prompt)
    native_shares = [native.novelty(p) for p in prompts]
    _python_only(monkeypatch)
    python = novelty.ReferenceVocabulary(reference_prompts=len(references), bits=1 << 12)
    for prompt in references:
        python.update(prompt)
    assert python._bitset == native._bitset and python.prompts_seen == native.prompts_seen
    assert [python.novelty(p) for p in prompts] == native_shares
    assert 0 < sum(native_shares) < len(prompts)


def test_the_c_extension_refuses_a_bitset_that_does_not_fit_its_mask() -> None:
    with pytest.raises(ValueError, match="cannot hold mask 8191"):
        novelty._novelty.novelty("a b", bytearray(512), 8191, 256)
    with pytest.raises(ValueError, match="power of two minus one"):
        novelty._novelty.mark("a b", bytearray(1024), 1000, 256)
    with pytest.raises(ValueError, match="power of two minus one"):
        novelty._novelty.novelty("a b", bytearray(1024), -1, 256)  # all ones: no bitset holds it
    with pytest.raises(ValueError, match="max_tokens must not be negative"):
        novelty._novelty.novelty("a b", bytearray(1024), 8191, -1)
    with pytest.raises(ValueError, match="max_tokens must not be negative"):
        novelty._novelty.features("a b", -2)
    with pytest.raises(TypeError):
        novelty._novelty.mark("a b", b"\0" * 1024, 8191, 256)  # read-only


def test_non_ascii_prompts_keep_the_regex_definition() -> None:
    for prompt in ("Café au lait 12", "\uff2belvin \u212a 3", "İstanbul 7 days", "naïve—résumé"):
        assert novelty.prompt_features(prompt) == novelty._reference_features(prompt)


def _rating(log_id: uuid.UUID, n: int, score: float = 0.5) -> InferenceFeedback:
    return InferenceFeedback(event_id=uuid.UUID(int=n), occurred_at=T0 + timedelta(seconds=n), model="shop",
                             inference_event_id=log_id, score=score)


def test_a_rating_of_a_known_log_is_released_without_queueing(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Traffic("shop")
    log = t.serve(2, 0.0, rated=False)
    served = ServedLogs()
    served.record("shop", log)
    queue = RatingQueue(served)

    def queued(*args: Any) -> None:
        raise AssertionError("the rating was queued")

    monkeypatch.setattr(ratings, "_Waiting", queued)
    [rated] = queue.on_feedback("shop", _rating(log.event_id, 5, score=-0.25))
    assert rated == RatedEvent(str(uuid.UUID(int=5)), "shop", 2, -0.25, log.occurred_at.timestamp(),
                               (T0 + timedelta(seconds=5)).timestamp(), 1, 1, True)
    assert queue.waiting == 0 and queue.feedback_clock == rated.rated_at


def test_a_rating_behind_a_waiting_one_still_queues_in_feedback_order() -> None:
    t = Traffic("shop")
    first, second = t.serve(1, 0.0, rated=False), t.serve(1, 0.0, rated=False)
    served = ServedLogs()
    served.record("shop", second)
    queue = RatingQueue(served)
    assert queue.on_feedback("shop", _rating(first.event_id, 3)) == []
    assert queue.on_feedback("shop", _rating(second.event_id, 4)) == []  # its log is known: it waits anyway
    served.record("shop", first)
    assert [(r.seq, r.ordinal) for r in queue.on_log("shop", first)] == [(1, 2), (2, 1)]


def test_without_a_trial_or_a_held_move_the_judge_only_remembers_ratings(monkeypatch: pytest.MonkeyPatch) -> None:
    monitors = AdapterMonitors(MonitorConfig())
    judge = RolloutJudge(RolloutConfig(), monitors.served)

    def trial_work(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("trial or held-move work without a trial or a held move")

    monkeypatch.setattr(RolloutJudge, "_apply_held", trial_work)
    monkeypatch.setattr(RolloutJudge, "_close_ended", trial_work)
    for i in range(300):
        log = make_log("support", i, seed=4)
        monitors.observe_log("support", log)
        assert judge.observe_log("support", log) == []
        rating = make_feedback("support", i, i % 3 == 0, seed=4)
        monitors.observe_feedback("support", rating)
        assert judge.observe_feedback("support", rating) == []
    st = judge.adapters["support"]
    assert st.ratings == 300 and len(st.recent[1]) == RolloutConfig().buffer_events
    assert st.canary_trial is None and st.guard is None and judge.held == {}


def test_verdicts_are_unchanged_when_trials_are_open() -> None:
    rules = RolloutConfig(rules=TrialRules(graduate_after_requests=300, guard_window_events=5000))
    t = Traffic("shop", seed=1)
    t.move("production", 1, None)
    for _ in range(200):
        t.serve(1, 0.3)
    t.move("canary", 2, None)
    t.canary_period(1500, weight=0.3, canary=2, canary_mean=-0.5, production=1, production_mean=0.3)
    ordered = run(t.lines(), rollout_config=rules).verdicts
    mixed = run([e.model_dump_json() for e in interleaved(t.events, 3)], rollout_config=rules).verdicts
    assert [str(v.decision_id) for v in ordered] == ["c86fad05-eb65-5996-8b73-59ad3bd46dcd"]
    assert [v.snapshot() for v in mixed] == [v.snapshot() for v in ordered]


# Pickled by the frozen slotted dataclasses these records were before (their state: the list of fields).
FROZEN_ERA = (
    b"\x80\x05\x95\xe8\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x1fadaptloop_drift.rollout.ratings\x94\x8c\rServedRequ"
    b"est\x94\x93\x94)\x81\x94]\x94(K\x02G?\xf8\x00\x00\x00\x00\x00\x00K\x07ebh\x01\x8c\nRatedEvent\x94\x93\x94)\x81"
    b"\x94]\x94(\x8c\x04fb-1\x94\x8c\x04shop\x94NG\xbf\xe0\x00\x00\x00\x00\x00\x00G?\xf8\x00\x00\x00\x00\x00\x00G@"
    b"\x04\x00\x00\x00\x00\x00\x00NK\x03\x89ebh\x01\x8c\x08_Waiting\x94\x93\x94)\x81\x94]\x94(\x8c\x04fb-2\x94\x8c"
    b"\x04uuid\x94\x8c\x04UUID\x94\x93\x94)\x81\x94}\x94\x8c\x03int\x94K\x05sbG?\xf0\x00\x00\x00\x00\x00\x00G@\x10"
    b"\x00\x00\x00\x00\x00\x00K\x02K\tebe."
)


def test_records_load_from_pickles_of_the_frozen_records_and_round_trip() -> None:
    records = [ServedRequest(2, 1.5, 7), RatedEvent("fb-1", "shop", None, -0.5, 1.5, 2.5, None, 3, False),
               ratings._Waiting("fb-2", uuid.UUID(int=5), 1.0, 4.0, 2, 9)]
    assert pickle.loads(FROZEN_ERA) == records
    assert pickle.loads(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)) == records
    assert len({*records}) == 3  # still hashable by value


def test_model_names_are_checked_once_each_and_refused_names_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = make_log("support-desk", 1).to_json_bytes()
    assert isinstance(events.decode_log(raw), events.LogEvent)

    class NoMoreChecks:
        def search(self, name: str) -> None:
            raise AssertionError(f"pattern checked again for {name!r}")

    monkeypatch.setattr(events, "_MODEL_PATTERN", NoMoreChecks())
    assert isinstance(events.decode_log(raw), events.LogEvent)
    assert isinstance(events.decode_rating(make_feedback("support-desk", 1, 0).to_json_bytes()), events.RatingEvent)
    monkeypatch.undo()
    bad = raw.replace(b'"model":"support-desk"', b'"model":"support desk"')
    with pytest.raises(Exception, match="model"):
        events.decode_log(bad)
    monitors = AdapterMonitors(MonitorConfig())
    handlers.handle_inference_log(make_log("support:canary", 2), monitors=monitors, max_adapters=10)
    assert handlers._ADAPTERS["support:canary"] == "support"
    with pytest.raises(UnmonitoredEvent, match="does not name an adapter"):
        handlers.handle_inference_log(make_log("Upper.Case", 3), monitors=monitors, max_adapters=10)
    assert "Upper.Case" not in handlers._ADAPTERS
