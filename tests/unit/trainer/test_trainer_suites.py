"""The user's evaluation suites in the gate: metrics, tolerance, failures recorded per suite, the judge."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from adaptloop_contracts.eval_suites import EvalSuiteItem, EvalSuiteRecord, JudgeSettings
from adaptloop_trainer.evaluation import GateResult
from adaptloop_trainer.infra.judge_client import judge_answer
from adaptloop_trainer.suites import LoadedSuite, apply_suites, item_score, load_suites, score_suite
from trainer_fakes import FakeRegistry


def no_judge(settings: JudgeSettings, item: EvalSuiteItem, answer: str) -> float:
    raise AssertionError("no judge expected")


def suite(metric: str, items: list[dict[str, Any]], *, tolerance: float = 0.0, **extra: Any) -> LoadedSuite:
    record = EvalSuiteRecord(adapter="support", name=f"{metric}-suite", version=3, sha256="a" * 64, metric=metric,  # type: ignore[arg-type]
                             tolerance=tolerance, max_new_tokens=16, items=len(items), artifact_uri="x",
                             created_by="alice", **extra)
    return LoadedSuite(record, tuple(EvalSuiteItem.model_validate(i) for i in items))


@pytest.mark.parametrize(("metric", "item", "answer", "expected"), [
    ("exact_match", {"prompt": "p", "expected": "Paris"}, "  paris ", 1.0),
    ("exact_match", {"prompt": "p", "expected": "Paris"}, "Paris, France", 0.0),
    ("token_f1", {"prompt": "p", "expected": "refunds take five days"}, "refunds take five days", 1.0),
    ("token_f1", {"prompt": "p", "expected": "a b c d"}, "a b", pytest.approx(2 / 3)),
    ("regex", {"prompt": "p", "pattern": r"^TICKET-\d+"}, "TICKET-42 opened", 1.0),
    ("regex", {"prompt": "p", "pattern": r"^TICKET-\d+"}, "no ticket", 0.0),
    ("json_schema", {"prompt": "p", "schema": {"type": "object", "required": ["id"]}}, '{"id": 3}', 1.0),
    ("json_schema", {"prompt": "p", "schema": {"type": "object", "required": ["id"]}}, '{"name": 3}', 0.0),
    ("json_schema", {"prompt": "p", "schema": {"type": "object"}}, "not json", 0.0),
])
def test_each_metric_scores_an_answer(metric: str, item: dict[str, Any], answer: str, expected: float) -> None:
    assert item_score(metric, EvalSuiteItem.model_validate(item), answer, judge=no_judge,
                      judge_settings=None) == expected


def test_a_candidate_losing_beyond_the_tolerance_fails_the_gate_and_each_suite_is_recorded() -> None:
    exact = suite("exact_match", [{"prompt": f"q{i}", "expected": f"a{i}"} for i in range(4)], tolerance=0.2)
    regex = suite("regex", [{"prompt": "q", "pattern": "ok"}])
    passed = GateResult(True, "passed: held-out loss 1.0 vs production v1 1.2", {"heldout_loss": 1.0})
    within = score_suite(exact, ["a0", "a1", "a2", "x"], ["a0", "a1", "a2", "a3"], baseline_name="production v1",
                         judge=no_judge)
    assert (within.candidate, within.baseline, within.passed) == (0.75, 1.0, False)  # lost 0.25 > 0.2
    kept = score_suite(regex, ["ok"], ["ok"], baseline_name="production v1", judge=no_judge)
    gate = apply_suites(passed, [within, kept])
    assert not gate.passed and gate.verdict.startswith("failed: suite exact_match-suite v3 (exact_match)")
    assert gate.metrics["heldout_loss"] == 1.0
    assert gate.metrics["suites"]["regex-suite"]["passed"] is True
    assert gate.metrics["suites"]["exact_match-suite"]["candidate"] == 0.75
    relaxed = suite("exact_match", [i.model_dump() for i in exact.items], tolerance=0.25)
    tolerated = score_suite(relaxed, ["a0", "a1", "a2", "x"], ["a0", "a1", "a2", "a3"],
                            baseline_name="production v1", judge=no_judge)
    assert tolerated.passed and apply_suites(passed, [tolerated]).passed


def test_a_judge_that_cannot_be_asked_fails_its_suite_with_the_reason() -> None:
    settings = {"url": "http://127.0.0.1:9/v1", "model": "m", "rubric": "helpful"}
    judged = suite("judge", [{"prompt": "q"}], judge=JudgeSettings.model_validate(settings))

    def broken(settings: JudgeSettings, item: EvalSuiteItem, answer: str) -> float:
        raise ConnectionError("refused")

    result = score_suite(judged, ["a"], ["b"], baseline_name="base model", judge=broken)
    assert not result.passed and result.error == "ConnectionError: refused"
    gate = apply_suites(GateResult(True, "passed", {}), [result])
    assert not gate.passed and "could not be scored" in gate.verdict


class _Judge(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        _Judge.seen.append({"path": self.path, "auth": self.headers.get("authorization"), **body})
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": "Grade: 7."}}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def judge_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Judge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        thread.join(5)


def test_the_judge_client_asks_an_openai_compatible_endpoint_with_the_rubric(
        judge_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_KEY", "sk-test")
    settings = JudgeSettings(url=judge_url, model="judge-model", rubric="polite and correct", api_key_env="JUDGE_KEY")
    item = EvalSuiteItem(prompt="Where is my refund?", expected="within 5 days")
    assert judge_answer(settings, item, "It arrives in 5 days.") == 0.7
    seen = _Judge.seen[-1]
    assert seen["path"] == "/v1/chat/completions" and seen["auth"] == "Bearer sk-test"
    assert seen["model"] == "judge-model" and "polite and correct" in seen["messages"][0]["content"]
    asked = seen["messages"][1]["content"]
    assert "within 5 days" in asked and "It arrives in 5 days." in asked


def test_suites_load_from_the_registry_pinned_by_sha256() -> None:
    registry = FakeRegistry()
    data = b'{"prompt": "q", "expected": "a"}\n'
    sha = registry.upload_artifact(data, "faq.jsonl").sha256
    registry.suites["support"] = [EvalSuiteRecord(adapter="support", name="faq", version=2, sha256=sha,
                                                  metric="exact_match", tolerance=0.0, max_new_tokens=8, items=1,
                                                  artifact_uri="x", created_by="alice")]
    [loaded] = load_suites(registry, "support")
    assert loaded.record.version == 2 and loaded.prompts == ["q"]
