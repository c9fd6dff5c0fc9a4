"""Evaluation suites the user owns: the JSONL items, the suite as the registry records it, per-suite results.

A suite is data, never code: each line is a prompt with what a good answer must satisfy under the
suite's metric (an expected answer, a regular expression, a JSON Schema, or a rubric for a judge).
The CLI, the registry and the trainer validate suites with these same models.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from adaptloop_contracts.base import MAX_TEXT_CHARS

EvalMetric = Literal["exact_match", "token_f1", "regex", "json_schema", "judge"]
EVAL_METRICS: tuple[str, ...] = ("exact_match", "token_f1", "regex", "json_schema", "judge")
SuiteName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
MAX_SUITE_ITEMS = 2000
MAX_SUITE_BYTES = 8 * 1024 * 1024
_Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]


class EvalSuiteItem(BaseModel):
    """One line of a suite: `prompt` plus what its metric needs (`expected`, `pattern` or `schema`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    prompt: _Text
    expected: _Text | None = None
    pattern: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    id: Annotated[str, StringConstraints(max_length=200)] | None = None


class JudgeSettings(BaseModel):
    """An OpenAI-compatible chat endpoint that scores answers against a rubric (0 to 10)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"^https?://")]
    """Base URL of the API, e.g. `http://127.0.0.1:8000/v1`."""
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    rubric: Annotated[str, StringConstraints(min_length=1, max_length=8000)]
    api_key_env: Annotated[str, StringConstraints(max_length=200, pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    """Name of the trainer's environment variable holding the judge's key (never the key itself)."""
    max_tokens: int = Field(default=16, ge=1, le=512)


class EvalSuiteSpec(BaseModel):
    """`POST /v1/adapters/{name}/eval-suites`: attach a new version of suite `name` (an uploaded JSONL)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: SuiteName
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    metric: EvalMetric
    tolerance: float = Field(default=0.0, ge=0.0, le=1.0)
    """How much lower (on the 0..1 score) the candidate may score than production before it is refused."""
    judge: JudgeSettings | None = None
    max_new_tokens: int = Field(default=32, ge=1, le=512)
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _judge_only_for_judge(self) -> EvalSuiteSpec:
        if (self.metric == "judge") != (self.judge is not None):
            raise ValueError("`judge` settings are required with metric judge and allowed with it only")
        return self


class EvalSuiteRecord(BaseModel):
    """A suite version as the registry answers it."""

    adapter: str
    name: str
    version: int
    sha256: str
    metric: EvalMetric
    tolerance: float
    judge: JudgeSettings | None = None
    max_new_tokens: int
    items: int
    artifact_uri: str
    created_by: str
    created_at: str | None = None
    reason: str | None = None


class SuiteResult(BaseModel):
    """One suite's outcome in a version's evaluation (`evaluation.metrics.suites[name]`)."""

    suite: str
    version: int
    sha256: str
    metric: EvalMetric
    items: int
    candidate: float
    baseline: float
    tolerance: float
    passed: bool
    baseline_name: str
    error: str | None = None


class SuiteLineError(ValueError):
    """Why line `line` of a suite file is not a valid item for its metric."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def check_item(item: EvalSuiteItem, metric: str) -> None:
    """Raise ValueError unless `item` carries what `metric` needs (and it is well-formed)."""
    if metric in ("exact_match", "token_f1") and item.expected is None:
        raise ValueError(f"metric {metric} needs an `expected` answer")
    if metric == "regex":
        if item.pattern is None:
            raise ValueError("metric regex needs a `pattern`")
        try:
            re.compile(item.pattern)
        except re.error as exc:
            raise ValueError(f"`pattern` is not a regular expression: {exc}") from exc
    if metric == "json_schema":
        if item.json_schema is None:
            raise ValueError("metric json_schema needs a `schema` object")
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(item.json_schema)
        except SchemaError as exc:
            raise ValueError(f"`schema` is not a valid JSON Schema: {exc.message}") from exc


def parse_suite(data: bytes, metric: str) -> list[EvalSuiteItem]:
    """Every item of a suite file, or `SuiteLineError` naming the first bad line; nothing partial."""
    if len(data) > MAX_SUITE_BYTES:
        raise SuiteLineError(0, f"the file is larger than {MAX_SUITE_BYTES} bytes")
    items: list[EvalSuiteItem] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SuiteLineError(number, f"not UTF-8 JSON ({exc})") from exc
        try:
            item = EvalSuiteItem.model_validate(value)
            check_item(item, metric)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise SuiteLineError(number, f"{where + ': ' if where else ''}{first.get('msg')}") from None
        except ValueError as exc:
            raise SuiteLineError(number, str(exc)) from None
        items.append(item)
        if len(items) > MAX_SUITE_ITEMS:
            raise SuiteLineError(number, f"more than {MAX_SUITE_ITEMS} items")
    if not items:
        raise SuiteLineError(0, "the suite holds no items")
    return items
