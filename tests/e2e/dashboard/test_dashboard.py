"""The dashboard in a real headless Chromium: what the operator reads on the rendered page, and no console errors.

Two pages: one over canned service answers (every part of the page filled: a pending approval with
its suite results, alarms, swaps, jobs in progress), served by the real dashboard app; and one over
the real stack after the loop closed (the new version, its swap and the drift series of real traffic).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from adaptloop_dashboard.config import Settings
from adaptloop_dashboard.main import create_app
from adaptloop_devstack.broker import free_ports, port_open
from adaptloop_devstack.paths import var_dir
from adaptloop_devstack.stack import Stack
from dashboard_fakes import SHAPES, answers, services_transport
from pydantic import TypeAdapter

BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=8000",
    "--window-size=1200,1800",
]


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no headless Chromium on PATH: `make test` installs Debian's chromium package", pytrace=False)


def render(url: str, profile: Path, screenshot: Path | None = None) -> str:
    """The DOM after the page's scripts ran; fails on any console message (the page itself logs nothing)."""
    flags = [*BROWSER_FLAGS, f"--user-data-dir={profile}"]
    run = subprocess.run([_browser(), *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], f"the page wrote to the browser console: {console}"
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([_browser(), *flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=120,
                       check=True)
        assert screenshot.stat().st_size > 10_000
    assert 'data-loaded="true"' in run.stdout, run.stdout[-2000:]
    return run.stdout


def visible(dom: str) -> str:
    """The page without its script and style: what is rendered."""
    return re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)


@pytest.fixture(scope="module")
def canned_dashboard() -> Iterator[str]:
    """The real dashboard app, its service calls answered by `dashboard_fakes`, on a free port."""
    [port] = free_ports(1)
    app = create_app(Settings(), transport=services_transport())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):
        assert time.monotonic() < deadline, "the dashboard did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(10)


def test_the_canned_answers_keep_the_services_contracts() -> None:
    """The canned page is only worth reading if every canned answer is one the services could give."""
    canned = answers()
    assert set(canned) == set(SHAPES)
    for path, shape in SHAPES.items():
        TypeAdapter(shape).validate_python(canned[path])


def test_every_part_of_the_page_reads_at_a_glance(canned_dashboard: str, tmp_path: Path) -> None:
    page = visible(render(canned_dashboard, tmp_path / "profile",
                          screenshot=var_dir() / "test-artifacts" / "dashboard-canned.png"))
    assert '{"' not in page and "{&quot;" not in page, "no raw JSON on the page"
    # at a glance: aliases as chips, the pending approval, the last production move
    glance = re.search(r'<tr data-adapter="support">(.*?)</tr>', page, re.S)
    assert glance, page[:3000]
    assert 'data-alias="production">production → v2</span>' in glance.group(1)
    assert "pending approval</span> v3" in glance.group(1)
    assert "v1 → v2" in glance.group(1) and "system:approval" in glance.group(1)
    # the pending approval with what it would replace and its suite results
    approval = re.search(r'<tr data-approval="support@3">(.*?)</tr>', page, re.S)
    assert approval and "<td>v2</td>" in approval.group(1)
    assert re.search(r'data-suite="refunds"><b>refunds</b> <span class="status passed">passed</span> '
                     r"exact_match 0.82 vs production 0.74 \(tolerance 0.02, 50 items, suite v1\)", approval.group(1))
    # suite results in the versions table, only where the gate recorded some
    assert re.search(r'<tr data-version="3">.*?data-suite="refunds"', page, re.S)
    assert not re.search(r'<tr data-version="2">((?!</tr>).)*data-suite', page, re.S)
    # swaps and jobs with progress
    assert re.search(r'<tr class="swap">.*?<td>support</td><td>production</td><td>v1 → v2</td>', page, re.S)
    assert 'data-progress="0.45"' in page and "45%" in page
    # drift: one chart per signal, recent and baseline per version, the alarm marked where it fell
    charts = dict(re.findall(r'<svg class="chart signal-chart" data-signal="(\w+)" data-alarms="(\d+)"', page))
    assert set(charts) == {"quality_error", "correction_rate", "surprise", "input_novelty", "latency_ms",
                           "completion_tokens"}
    assert int(charts["quality_error"]) >= 1
    quality = re.search(r'data-signal="quality_error".*?</svg>', page, re.S).group(0)  # type: ignore[union-attr]
    assert {'data-line="v1 recent"', 'data-line="v1 baseline"', 'data-line="v2 recent"',
            'data-line="v2 baseline"'} <= set(re.findall(r'data-line="[^"]+"', quality))
    assert 'class="alarm" data-severity="high"' in quality
    rating = re.search(r'<svg class="chart rating-chart".*?</svg>', page, re.S)
    assert rating and 'data-line="v2 recent rating"' in rating.group(0)


def _rate_an_answer(stack: Stack, version: int, ratings: int) -> None:
    """Ask `support` once (`version` serves) and rate the answer `ratings` times through ingest, all good
    scores so the rollout guard has nothing to roll back."""
    resp = httpx.post(stack.config.url("inference") + "/v1/completions", timeout=120,
                      json={"model": "support", "prompt": "How do I reset it?", "max_tokens": 8, "temperature": 0})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-adaptloop-adapter-version"] == str(version)
    resp = httpx.post(stack.config.url("ingest") + "/v1/feedback", timeout=30,
                      headers={"Authorization": f"Bearer {stack.tokens.token('trainer')}"},
                      json=[{"model": "support", "inference_event_id": resp.headers["x-adaptloop-event-id"],
                             "score": 1.0}] * ratings)
    assert resp.status_code == 202, resp.text


def _rated_points(stack: Stack, version: int) -> int:
    try:
        doc = httpx.get(stack.config.url("drift") + "/v1/adapters/support/signals", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return 0
    return sum(len(v["rating"]["points"]) for v in doc.get("versions", []) if v["adapter_version"] == version)


def test_the_page_over_the_running_loop(stack: Stack, closed_loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new = closed_loop.new_version
    _rate_an_answer(stack, new, 12)
    deadline = time.monotonic() + 60
    while _rated_points(stack, new) < 12:
        assert time.monotonic() < deadline, "drift did not take in the ratings of the new version within 60 s"
        time.sleep(0.5)

    page = visible(render(stack.config.url("dashboard") + "/", tmp_path / "profile",
                          screenshot=var_dir() / "test-artifacts" / "dashboard.png"))
    assert '<div class="errors">' not in page, "every service answered the dashboard"
    glance = re.search(r'<tr data-adapter="support">(.*?)</tr>', page, re.S)
    assert glance and f'data-alias="production">production → v{new}</span>' in glance.group(1)
    assert f'<tr data-version="{new}"><td>v{new}</td><td><span class="status production">' in page
    assert re.search(rf'<tr class="swap">.*?<td>support</td><td>production</td><td>(v\d+|—) → v{new}</td>', page, re.S)
    assert re.search(r'<tr data-job="[^"]+">.*?<span class="status succeeded">.*?data-progress="1"', page, re.S)
    rating = re.search(r'<svg class="chart rating-chart".*?</svg>', page, re.S)
    assert rating and f'data-line="v{new} recent rating"' in rating.group(0), "the ratings of the new version"
    quality = re.search(r'<svg class="chart signal-chart" data-signal="quality_error".*?</svg>', page, re.S)
    assert quality and f'data-line="v{new} recent"' in quality.group(0)
