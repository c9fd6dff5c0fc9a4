"""The user's evaluation suites in the gate: score candidate and production answers, refuse a loss.

Each attached suite (latest version, its JSONL pinned by sha256 in the registry) is answered greedily
by both models; every answer scores 0..1 under the suite's metric and the suite's score is the mean.
The candidate fails a suite when it scores below production by more than the suite's tolerance.
No user code runs here: metrics are fixed functions, regular expressions and JSON Schemas are data,
and the judge is an HTTP endpoint.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from adaptloop_contracts.eval_suites import (
    EvalSuiteItem,
    EvalSuiteRecord,
    JudgeSettings,
    SuiteLineError,
    SuiteResult,
    parse_suite,
)
from adaptloop_scenarios.rating import overlap_f1

from adaptloop_trainer.errors import TrainingFailed
from adaptloop_trainer.evaluation import GateResult

JudgeFn = Callable[[JudgeSettings, EvalSuiteItem, str], float]
"""Scores one answer 0..1 against the judge's rubric (raises when the judge cannot be asked)."""
_SPACE = re.compile(r"\s+")


class SuiteSource(Protocol):
    def eval_suites(self, name: str) -> list[EvalSuiteRecord]: ...

    def download_artifact(self, sha256: str) -> bytes: ...


@dataclass(frozen=True)
class LoadedSuite:
    record: EvalSuiteRecord
    items: tuple[EvalSuiteItem, ...]

    @property
    def prompts(self) -> list[str]:
        return [item.prompt for item in self.items]


def load_suites(registry: SuiteSource, adapter: str) -> list[LoadedSuite]:
    """The suites attached to `adapter`, their files downloaded (sha256-checked) and parsed."""
    loaded = []
    for record in registry.eval_suites(adapter):
        try:
            items = parse_suite(registry.download_artifact(record.sha256), record.metric)
        except SuiteLineError as exc:
            raise TrainingFailed(f"evaluation suite {record.name} v{record.version}: {exc}") from exc
        loaded.append(LoadedSuite(record, tuple(items)))
    return loaded


def _normalised(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def item_score(metric: str, item: EvalSuiteItem, answer: str, *, judge: JudgeFn,
               judge_settings: JudgeSettings | None) -> float:
    """One answer's score in 0..1 under `metric`."""
    if metric == "exact_match":
        return float(_normalised(answer) == _normalised(item.expected or ""))
    if metric == "token_f1":
        return overlap_f1(answer, item.expected or "")
    if metric == "regex":
        return float(re.search(item.pattern or "", answer) is not None)
    if metric == "json_schema":
        return float(_valid_json(answer, item.json_schema or {}))
    if metric == "judge":
        assert judge_settings is not None
        return max(0.0, min(1.0, judge(judge_settings, item, answer)))
    raise ValueError(f"unknown metric {metric!r}")


def _valid_json(answer: str, schema: dict[str, Any]) -> bool:
    from jsonschema import Draft202012Validator

    try:
        value = json.loads(answer.strip())
    except ValueError:
        return False
    return Draft202012Validator(schema).is_valid(value)


def score_suite(suite: LoadedSuite, candidate: Sequence[str], baseline: Sequence[str], *, baseline_name: str,
                judge: JudgeFn) -> SuiteResult:
    """Mean scores of both models on one suite and whether the candidate stays within the tolerance."""
    record = suite.record
    try:
        scores = [(item_score(record.metric, item, c, judge=judge, judge_settings=record.judge),
                   item_score(record.metric, item, b, judge=judge, judge_settings=record.judge))
                  for item, c, b in zip(suite.items, candidate, baseline, strict=True)]
    except Exception as exc:  # a judge that cannot be asked: the suite is not passed, and says why
        return SuiteResult(suite=record.name, version=record.version, sha256=record.sha256, metric=record.metric,
                           items=len(suite.items), candidate=0.0, baseline=0.0, tolerance=record.tolerance,
                           passed=False, baseline_name=baseline_name, error=f"{type(exc).__name__}: {exc}"[:500])
    cand = sum(c for c, _ in scores) / len(scores)
    base = sum(b for _, b in scores) / len(scores)
    return SuiteResult(suite=record.name, version=record.version, sha256=record.sha256, metric=record.metric,
                       items=len(scores), candidate=round(cand, 6), baseline=round(base, 6),
                       tolerance=record.tolerance, passed=cand >= base - record.tolerance - 1e-9,
                       baseline_name=baseline_name)


def apply_suites(gate: GateResult, results: Sequence[SuiteResult]) -> GateResult:
    """The gate's result with every suite recorded under `metrics.suites`; a failed suite fails the gate."""
    if not results:
        return gate
    metrics = {**gate.metrics, "suites": {r.suite: r.model_dump() for r in results}}
    failures = [_failure(r) for r in results if not r.passed]
    if not failures:
        return replace(gate, metrics=metrics)
    verdict = "; ".join(failures)
    verdict = gate.verdict + "; " + verdict if not gate.passed else "failed: " + verdict
    return GateResult(False, verdict, metrics)


def _failure(result: SuiteResult) -> str:
    if result.error:
        return f"suite {result.suite} v{result.version} could not be scored ({result.error})"
    return (f"suite {result.suite} v{result.version} ({result.metric}): candidate {result.candidate:.3f} below "
            f"{result.baseline_name} {result.baseline:.3f} - tolerance {result.tolerance}")
