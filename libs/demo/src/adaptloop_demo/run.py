"""`adaptloop demo`: start the stack fresh, run the scenario, print the timeline, write the report."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from adaptloop_devstack.paths import var_dir
from adaptloop_devstack.postgres import drop_database
from adaptloop_devstack.stack import Stack, StackConfig, StackError
from rich.console import Console
from rich.table import Table

from adaptloop_demo.oracle import OracleUnavailable, measure_levels
from adaptloop_demo.report import write_report
from adaptloop_demo.scenario import NEW_DOMAIN, OLD_DOMAIN, DemoError, DemoParams, DemoResult, run_scenario
from adaptloop_demo.summary import LOOP_FIGURES, add_levels, cell, figure_values, summarise
from adaptloop_demo.timeline import read_topics

DEMO_DATABASE = "adaptloop_demo"
MIN_RECOVERY = 0.8
"""The demo fails when the new version wins back less than this share of what the oracle reaches."""
MAX_EVENTS_TO_NEW_VERSION = 300
DEMO_ENV = {
    # The demo's retrain policy acts on a single alarm of a trigger signal (the default waits for
    # two signals to agree, or one high-severity alarm), so the loop closes within minutes.
    "ADAPTLOOP_DRIFT_POLICY_MIN_AGREEING_SIGNALS": "1",
}


def run_demo(
    *,
    seed: int = 0,
    keep_running: bool = False,
    console: Console | None = None,
    params: DemoParams | None = None,
    config: StackConfig | None = None,
) -> dict[str, Any]:
    """Run the whole scenario; returns the summary (also written to var/demo/summary.json)."""
    console = console or Console()
    params = params or DemoParams(seed=seed)
    out_dir = var_dir() / "demo"
    config = config or StackConfig(
        database=DEMO_DATABASE, extra_env=DEMO_ENV | {"ADAPTLOOP_SPAN_FILE": str(out_dir / "spans.jsonl")}
    )
    stack = Stack(config)
    stack.down()
    _fresh_state(config, out_dir)
    console.print("[bold]adaptloop demo[/]: starting broker, database and the five services")
    started = time.monotonic()
    try:
        stack.up(progress=True)
        result = run_scenario(stack, params, console, adapters_dir=out_dir / "adapters")
        result.events = read_topics(config.bootstrap, prefix=config.topic_prefix)
    except (StackError, DemoError) as exc:
        stack.down()
        raise DemoError(str(exc)) from exc
    except BaseException:
        stack.down()
        raise
    if not keep_running:
        stack.down()
    summary = add_levels(summarise(result), _levels(config, params, result, console))
    summary["trace"] = _loop_trace(out_dir / "spans.jsonl", params.adapter)
    summary["seed"] = params.seed
    summary["adapter_dirs"] = result.adapter_dirs
    summary["wall_seconds"] = round(time.monotonic() - started, 1)
    summary["machine"] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": __import__("os").cpu_count(),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    report = write_report(out_dir / "report.html", result, summary)
    _print(console, summary, report)
    if keep_running:
        console.print("The stack keeps running: `make down` (or `adaptloop down`) stops it.")
    _check(summary, result)
    return summary


def _levels(config: StackConfig, params: DemoParams, result: DemoResult, console: Console) -> dict[str, Any] | None:
    """Every version and the oracle rated on held-out prompts nobody sent (the oracle trained once, then cached)."""
    with console.status("rating the versions and the oracle on held-out prompts (the oracle is trained once)"):
        try:
            return measure_levels(
                model_dir=config.models_dir / "tiny-llama", old_domain=OLD_DOMAIN, new_domain=NEW_DOMAIN,
                seed=params.seed, training_config=params.training_config,
                adapters={f"v{n}": Path(d) for n, d in result.adapter_dirs.items()}, sent=result.prompts_sent,
            )
        except (OracleUnavailable, OSError, ValueError) as exc:
            console.print(f"[yellow]held-out evaluation unavailable: {exc}[/yellow]")
            return None


def _loop_trace(span_file: Path, adapter: str) -> dict[str, Any]:
    """The trace from the drifting request to the swap (spans flush within a second of their end)."""
    from adaptloop_demo.trace_chain import TraceChainBroken, find_loop_trace, load_spans

    deadline = time.monotonic() + 15
    while True:
        try:
            chain = find_loop_trace(load_spans(span_file), adapter)
            return {"trace_id": chain.trace_id, "spans": chain.describe()}
        except TraceChainBroken as exc:
            if time.monotonic() > deadline:
                return {"trace_id": None, "missing": str(exc)}
            time.sleep(0.5)


def _fresh_state(config: StackConfig, out_dir: Path) -> None:
    from adaptloop_devstack.postgres import ensure_database

    drop_database(ensure_database(config.database))
    import shutil

    for target in [config.home / sub for sub in ("registry", "trainer", "drift", "inference")] + [out_dir / "adapters"]:
        if target.exists():
            shutil.rmtree(target)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "spans.jsonl").unlink(missing_ok=True)


def _print(console: Console, summary: dict[str, Any], report: Path) -> None:
    table = Table(title="Timeline after the traffic shift")
    for column in ("step", "after shift", "detail"):
        table.add_column(column)
    for m in summary["milestones"]:
        table.add_row(m["name"], f"{m['seconds_after_shift']:+.1f} s", m["detail"])
    console.print(table)
    console.print(quality_table(summary))
    figures = Table(title="The loop")
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    shown = figure_values(summary)
    for label, key in LOOP_FIGURES:
        figures.add_row(label, cell(shown.get(key)))
    shares = summary.get("shares") or {}
    figures.add_row("time to adapter by phase", ", ".join(f"{k} {v:.0%}" for k, v in shares.items()) or "-")
    console.print(figures)
    trace = summary.get("trace") or {}
    if trace.get("trace_id"):
        console.print(
            f"Trace of the loop (drifting request -> swap): {trace['trace_id']}; "
            "find it in Jaeger by this id when OTEL_EXPORTER_OTLP_ENDPOINT is set"
        )
    console.print(f"Report: {report}")


def quality_table(summary: dict[str, Any]) -> Table:
    """Pre-shift, shifted, new-version and oracle levels side by side, and the recovery they give."""
    n = summary.get("evaluation_prompts") or "held-out"
    table = Table(title="Quality: the users' rating (2 x token F1 with the ideal answer - 1)")
    for column in ("level", "what", f"on {n} unseen prompts", "live, as users rated"):
        table.add_column(column, justify="left" if column in ("level", "what") else "right")
    levels = summary.get("levels") or {}
    old, new = summary.get("old_version"), summary.get("new_version")
    table.add_row("pre-shift", f"v{old} on the old domain", cell(levels.get("pre_shift")),
                  cell(summary.get("rating_pre_shift")))
    table.add_row("shifted", f"v{old} on the new domain", cell(levels.get("shifted")),
                  cell(summary.get("rating_before_swap")))
    table.add_row("new version", f"v{new} on the new domain", cell(levels.get("new_version")),
                  cell(summary.get("rating_after_swap")))
    table.add_row("", f"v{new} on the old domain", cell(levels.get("new_version_on_old_domain")), "")
    table.add_row("oracle", "trained offline on the new domain's ideal answers", cell(levels.get("oracle")), "")
    ratio = summary.get("recovery_ratio_vs_oracle")
    table.add_row("recovery", "(new version - shifted) / (oracle - shifted)",
                  f"{ratio:.0%}" if ratio is not None else "-", "")
    return table


def _check(summary: dict[str, Any], result: DemoResult) -> None:
    """The demo's claims; a run that does not meet them exits non-zero."""
    problems = []
    if result.new_version is None:
        problems.append("no new version served after the shift")
    delay = summary.get("detection_delay_events")
    if delay is None or delay > 300:
        problems.append(f"drift detected {delay} events after the shift (claim: within 300)")
    to_new = summary.get("events_from_detection_to_new_version")
    if result.new_version is not None and (to_new is None or to_new > MAX_EVENTS_TO_NEW_VERSION):
        problems.append(f"the new version served {to_new} events after detection "
                        f"(claim: within {MAX_EVENTS_TO_NEW_VERSION})")
    loss_before, loss_after = summary.get("heldout_token_loss_before"), summary.get("heldout_token_loss_after")
    if loss_before is None or loss_after is None or loss_after >= loss_before:
        problems.append(f"held-out new-domain token loss did not improve ({loss_before} -> {loss_after})")
    ratio = summary.get("recovery_ratio_vs_oracle")
    if ratio is None or ratio < MIN_RECOVERY:
        levels = summary.get("levels") or {}
        problems.append(f"the new version won back {ratio} of the oracle's gain (claim: at least {MIN_RECOVERY}; "
                        f"shifted {levels.get('shifted')}, new {levels.get('new_version')}, "
                        f"oracle {levels.get('oracle')})")
    if problems:
        raise DemoError("; ".join(problems))
