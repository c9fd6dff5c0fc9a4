"""The dashboard in a real browser: it loads, shows the adapter, its versions and a chart."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from adaptloop_devstack.paths import var_dir
from adaptloop_devstack.stack import Stack

BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=8000",
    "--window-size=1200,1800",
]


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no headless Chromium on PATH: `make test` installs Debian's chromium package", pytrace=False)


def test_dashboard_shows_adapter_versions_and_chart(stack: Stack, closed_loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = stack.config.url("dashboard") + "/"
    browser = _browser()
    flags = [*BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert 'data-loaded="true"' in dom
    assert 'data-adapter="support"' in dom
    assert f"<td>{closed_loop.new_version}</td>" in dom
    assert '<svg class="chart"' in dom

    shot = var_dir() / "test-artifacts" / "dashboard.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([browser, *flags, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
