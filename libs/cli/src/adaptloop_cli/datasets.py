"""`adaptloop examples import` and `adaptloop eval-suites add | list`: your data, checked line by line first.

Every line is checked before anything is sent, so a bad line names itself and nothing is imported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer
from adaptloop_contracts.base import MAX_TEXT_CHARS
from adaptloop_contracts.eval_suites import EVAL_METRICS, MAX_SUITE_BYTES, SuiteLineError, parse_suite
from adaptloop_contracts.registry_answers import VersionRecord
from rich.table import Table

from adaptloop_cli.console import stderr, stdout
from adaptloop_cli.context import cli_context
from adaptloop_cli.errors import CliError, ServiceRefused, reports_errors
from adaptloop_cli.onboarding_io import (
    BadInput,
    OutputFormat,
    OutputOption,
    adapter_or_bad_input,
    as_bad_input,
    emit,
    progress_bar,
    read_file,
    upload_artifact,
)

examples_app = typer.Typer(help="Examples an adapter learns from: import prompt/answer pairs or chats.",
                           no_args_is_help=True)
suites_app = typer.Typer(help="Evaluation suites: your prompts and checks, run by the gate on every candidate.",
                         no_args_is_help=True)

MAX_EXAMPLES_BYTES = 64 * 1024 * 1024
BATCH = 1000
"""Examples per import: the ingest service's default limit per request, stored in one transaction."""
SHOWN_LINE_ERRORS = 20


def example_of(value: Any) -> tuple[str, str]:
    """(prompt, answer) of one line: `{prompt, answer}` or `{messages: [{role: user}, {role: assistant}]}`."""
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    if "messages" in value:
        messages = value["messages"]
        roles = [m.get("role") for m in messages] if isinstance(messages, list) and all(
            isinstance(m, dict) for m in messages) else None
        if roles != ["user", "assistant"]:
            raise ValueError("`messages` must be one user message then one assistant message")
        prompt, answer = messages[0].get("content"), messages[1].get("content")
    else:
        unknown = sorted(set(value) - {"prompt", "answer"})
        if unknown:
            raise ValueError(f"unknown fields {unknown} (expected prompt and answer, or messages)")
        prompt, answer = value.get("prompt"), value.get("answer")
    for field, text in (("prompt", prompt), ("answer", answer)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{field} must be a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"{field} is longer than {MAX_TEXT_CHARS} characters")
    return prompt, answer


def parse_examples(data: bytes) -> tuple[list[tuple[str, str]], list[str]]:
    """All examples of a JSONL file, and one message per bad line."""
    pairs: list[tuple[str, str]] = []
    errors: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            pairs.append(example_of(json.loads(raw.decode("utf-8"))))
        except UnicodeDecodeError:
            errors.append(f"line {number}: not UTF-8")
        except json.JSONDecodeError as exc:
            errors.append(f"line {number}: not JSON ({exc.msg})")
        except ValueError as exc:
            errors.append(f"line {number}: {exc}")
    return pairs, errors


@examples_app.command("import")
@reports_errors
def import_examples(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The adapter the examples are for."),
    path: Path = typer.Argument(..., metavar="FILE.jsonl", help="One JSON object per line."),
    output: OutputFormat = OutputOption,
) -> None:
    """Import FILE's prompt/answer pairs (or one-turn chats) as curated examples of NAME; all or nothing."""
    cli = cli_context(ctx)
    pairs, errors = parse_examples(read_file(path, max_bytes=MAX_EXAMPLES_BYTES, what="examples file"))
    if errors:
        for message in errors[:SHOWN_LINE_ERRORS]:
            stderr().print(f"{path}: {message}", highlight=False, markup=False, soft_wrap=True)
        more = f" ({len(errors) - SHOWN_LINE_ERRORS} more not shown)" if len(errors) > SHOWN_LINE_ERRORS else ""
        raise BadInput(f"{path}: {len(errors)} bad line(s){more}; nothing was imported")
    if not pairs:
        raise BadInput(f"{path}: no examples in the file")
    if len(pairs) > BATCH:
        raise BadInput(f"{path}: {len(pairs)} examples; one import takes at most {BATCH} (stored in one "
                       "transaction, so nothing is half-imported): split the file; nothing was imported")
    adapter_or_bad_input(cli.registry, name)
    with progress_bar() as progress:
        task = progress.add_task(f"importing {len(pairs)} examples", total=len(pairs))
        chunk = [{"adapter": name, "prompt": p, "answer": a} for p, a in pairs]
        try:
            answer = cli.ingest.import_examples(chunk)
        except ServiceRefused as exc:
            raise as_bad_input(exc) from None
        if answer.rejected:
            shown = [r.model_dump() for r in answer.rejected[:3]]
            raise CliError(f"ingest rejected {len(answer.rejected)} examples: {shown}")
        imported, duplicates = answer.imported, answer.duplicates
        progress.advance(task, len(chunk))
    result = {"adapter": name, "lines": len(pairs), "imported": imported, "duplicates": duplicates}
    emit(output, result, f"[green]imported {imported} examples[/] into {name} ({duplicates} already there)")


def suite_name_of(path: Path) -> str:
    """A suite name from a file name: `Refunds v2.jsonl` -> `refunds-v2`."""
    return re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-_") or "suite"


@suites_app.command("add")
@reports_errors
def add_suite(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The adapter the suite is attached to."),
    path: Path = typer.Argument(..., metavar="FILE.jsonl", help="One {prompt, expected|pattern|schema} per line."),
    metric: str = typer.Option(..., "--metric", "-m", help="exact_match, token_f1, regex, json_schema or judge."),
    suite: str | None = typer.Option(None, "--suite", "-s", help="The suite's name; default: from the file name. "
                                                               "Adding a name again makes its next version."),
    tolerance: float = typer.Option(0.0, "--tolerance", min=0.0, max=1.0,
                                    help="How much lower (0..1 score) the candidate may score than production."),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", min=1, max=512, help="Answer length per prompt."),
    judge_url: str | None = typer.Option(None, "--judge-url", help="judge: an OpenAI-compatible base URL (…/v1)."),
    judge_model: str | None = typer.Option(None, "--judge-model", help="judge: the model that judges."),
    rubric: str | None = typer.Option(None, "--rubric", help="judge: what a good answer is (text)."),
    judge_key_env: str | None = typer.Option(None, "--judge-key-env",
                                             help="judge: the trainer's environment variable holding the key."),
    reason: str = typer.Option("suite added with the adaptloop CLI", "--reason", "-r", help="Recorded in the audit."),
    output: OutputFormat = OutputOption,
) -> None:
    """Attach FILE as an evaluation suite of NAME: the gate scores candidate and production on it."""
    if metric not in EVAL_METRICS:
        raise BadInput(f"--metric {metric!r} is not one of {', '.join(EVAL_METRICS)}")
    judge: dict[str, Any] | None = None
    if metric == "judge":
        if not (judge_url and judge_model and rubric):
            raise BadInput("--metric judge needs --judge-url, --judge-model and --rubric")
        judge = {"url": judge_url, "model": judge_model, "rubric": rubric, "api_key_env": judge_key_env}
    data = read_file(path, max_bytes=MAX_SUITE_BYTES, what="suite")
    try:
        items = parse_suite(data, metric)
    except SuiteLineError as exc:
        raise BadInput(f"{path}: {exc}; nothing was added") from None
    cli = cli_context(ctx)
    adapter_or_bad_input(cli.registry, name)
    suite_name = suite or suite_name_of(path)
    with progress_bar() as progress:
        sha256 = upload_artifact(cli.registry, data, f"{suite_name}.jsonl", progress=progress)
    body = {"name": suite_name, "sha256": sha256, "metric": metric, "tolerance": tolerance, "judge": judge,
            "max_new_tokens": max_new_tokens, "reason": reason}
    try:
        record = cli.registry.attach_suite(name, body)
    except ServiceRefused as exc:
        raise as_bad_input(exc) from None
    emit(output, record.model_dump(mode="json"), f"[green]attached suite {suite_name} v{record.version}[/] to {name} "
                         f"({len(items)} items, {metric}, tolerance {tolerance}, sha256 {sha256[:12]}…)")


@suites_app.command("list")
@reports_errors
def list_suites(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Adapter name."),
    output: OutputFormat = OutputOption,
) -> None:
    """The suites the gate runs for NAME (the latest version of each)."""
    cli = cli_context(ctx)
    adapter_or_bad_input(cli.registry, name)
    suites = cli.registry.eval_suites(name)
    if output == OutputFormat.json:
        emit(output, [s.model_dump(mode="json") for s in suites], "")
        return
    table = Table(title=f"Evaluation suites of {name}", title_justify="left")
    for column in ("suite", "version", "metric", "items", "tolerance", "sha256", "added by"):
        table.add_column(column)
    for s in suites:
        table.add_row(s.name, f"v{s.version}", str(s.metric), str(s.items), str(s.tolerance), s.sha256[:12],
                      s.created_by)
    stdout().print(table if suites else f"{name} has no evaluation suites")


def suites_table(name: str, versions: list[VersionRecord]) -> Table | None:
    """Per-suite gate results of each version (candidate vs the baseline it was compared with)."""
    rows = [(v, s) for v in versions for s in v.suites]
    if not rows:
        return None
    table = Table(title=f"Evaluation suites per version of {name}", title_justify="left")
    for column in ("version", "suite", "metric", "candidate", "baseline", "tolerance", "verdict"):
        table.add_column(column)
    for version, s in rows:
        verdict = "error: " + str(s["error"]) if s.get("error") else ("passed" if s.get("passed") else "failed")
        table.add_row(f"v{version.version}", f"{s.get('suite')} v{s.get('version')}", str(s.get("metric")),
                      f"{float(s.get('candidate', 0.0)):.3f}", f"{float(s.get('baseline', 0.0)):.3f} "
                      f"({s.get('baseline_name', '?')})", str(s.get("tolerance")), verdict)
    return table
