"""The README's "Using it" section, run as written against a fresh stack brought up the way `make up` does.

Its own copy of the stack (own ports, database and state directory) starts the services the section
uses and registers the local base model exactly as `make up`; then the section's shell block runs
line by line (after `make up`) and its Python block runs in the stream environment. The only
change to the text is the port: `127.0.0.1:8000` becomes this stack's inference address, and the
CLI is pointed at this stack (ADAPTLOOP_CLI_*_URL, its token file).
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from adaptloop_devstack.broker import free_ports
from adaptloop_devstack.paths import repo_root, var_dir
from adaptloop_devstack.postgres import drop_database, ensure_database
from adaptloop_devstack.stack import DEFAULT_PORTS, Stack, StackConfig, StackError

SERVICES = ("registry", "ingest", "trainer", "inference")
"""What the section uses (drift and the dashboard are not asked anything there)."""


def using_it_blocks() -> tuple[str, str]:
    """The first shell and the first Python block of the README's "Using it" section."""
    text = (repo_root() / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    shell = re.search(r"```bash\n(.*?)```", section, re.S)
    python = re.search(r"```python\n(.*?)```", section, re.S)
    assert shell and python, "the README's Using it section lost its shell or Python block"
    return shell.group(1), python.group(1)


@pytest.fixture(scope="module")
def fresh_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = Path(tmp_path_factory.mktemp("readme-stack"))
    config = StackConfig(home=home, ports=dict(zip(DEFAULT_PORTS, free_ports(len(DEFAULT_PORTS)), strict=True)),
                         database=f"adaptloop_readme_{uuid.uuid4().hex[:8]}", models_dir=var_dir() / "models",
                         ready_timeout_s=600.0)
    running = Stack(config)
    try:
        running.up(services=SERVICES)
        assert running.register_local_base_model()  # what `make up` does after the services are ready
    except StackError as exc:
        running.down()
        pytest.fail(f"the stack did not start: {exc}", pytrace=False)
    try:
        yield running
    finally:
        running.down()
        drop_database(ensure_database(config.database))


def _as_here(text: str, stack: Stack) -> str:
    return text.replace("127.0.0.1:8000", f"127.0.0.1:{stack.config.ports['inference']}")


@pytest.mark.timeout(1800)
def test_the_using_it_section_works_as_written(fresh_stack: Stack) -> None:
    shell, python = using_it_blocks()
    lines = shell.splitlines()
    assert lines[0].startswith("make up"), "the section starts with `make up`"
    env = {**os.environ, "ADAPTLOOP_CLI_TOKENS_FILE": str(fresh_stack.tokens.path), "COLUMNS": "200"}
    env.pop("ADAPTLOOP_TOKEN", None)
    for service in ("registry", "ingest", "trainer", "inference", "drift"):
        env[f"ADAPTLOOP_CLI_{service.upper()}_URL"] = fresh_stack.config.url(service)
    script = "set -euo pipefail\n" + _as_here("\n".join(lines[1:]), fresh_stack)
    run = subprocess.run(["bash", "-c", script], cwd=repo_root(), env=env, capture_output=True, text=True,
                         timeout=840)
    assert run.returncode == 0, f"stdout:\n{run.stdout[-4000:]}\nstderr:\n{run.stderr[-4000:]}"
    assert '"support"' in run.stdout and "Evaluation suites per version of support" in run.stdout

    registry = fresh_stack.config.url("registry")
    [version] = httpx.get(f"{registry}/v1/adapters/support/versions", timeout=10).json()
    assert version["status"] == "production" and version["evaluation"]["passed"], version["evaluation"]
    suites = {s["suite"]: s for s in version["suites"]}
    assert set(suites) == {"support-suite", "support-judge"} and not any(s["error"] for s in suites.values())
    assert suites["support-judge"]["metric"] == "judge" and suites["support-suite"]["items"] == 12

    check = _as_here(python, fresh_stack) + (
        "\nassert reply.choices[0].message.content is not None"
        "\nprint(reply.model)\n")
    answered = subprocess.run([str(var_dir() / "venv" / "stream" / "bin" / "python"), "-c", check],
                              cwd=repo_root(), capture_output=True, text=True, timeout=120)
    assert answered.returncode == 0, answered.stderr[-3000:]
