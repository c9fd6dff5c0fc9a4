"""Errors are explained (which service, which URL, the server's reason, a hint) and never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from adaptloop_cli.clients.base import reason_of
from adaptloop_cli.settings import CliSettings
from cli_fakes import TOKEN, Cli, FakeServices


def test_promote_moves_the_alias_with_cas_against_what_the_registry_said(cli: Cli, fake: FakeServices) -> None:
    result = cli("promote", "support", "3", "--reason", "better on the new domain")

    assert result.exit_code == 0, result.output
    assert "support:production v2 -> v3" in result.output
    put = fake.mutations()[0]
    assert put.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(put.content) == {"version": 3, "expected_version": 2, "reason": "better on the new domain"}


def test_promote_with_a_stale_expected_version_explains_the_conflict(cli: Cli, fake: FakeServices) -> None:
    fake.adapters["support"]["aliases"]["production"] = 3  # someone else moved it

    result = cli("promote", "support", "4", "--expected-version", "2")

    assert result.exit_code == 4
    assert "409 conflict" in result.output
    assert "alias 'production' of 'support' points at 3, not 2" in result.output
    assert "moved since it was read as v2" in result.output
    assert "adaptloop versions support" in result.output and "--expected-version" in result.output
    assert "Traceback" not in result.output


def test_rollback_without_history_shows_the_registrys_reason(cli: Cli) -> None:
    result = cli("rollback", "support", "--reason", "bad answers")

    assert result.exit_code == 4
    assert "no previous version to roll back to" in result.output


def test_version_below_one_is_refused_locally(cli: Cli, fake: FakeServices) -> None:
    result = cli("promote", "support", "0")

    assert result.exit_code == 2
    assert fake.mutations() == []


VALIDATION_DETAIL = [{"loc": ["body", "reason"], "msg": "String should have at least 1 character",
                      "type": "string_too_short"}]


@pytest.mark.parametrize(("status", "detail", "shown"), [
    (401, "unknown bearer token", "the token is missing or unknown"),
    (403, "role 'reader' may not do this; needs 'admin'", "use a token with the admin"),
    (404, "adapter 'support' has no alias 'canary'", "404 not found"),
    (422, VALIDATION_DETAIL, "reason: String should have at least 1 character"),
])
def test_refusals_show_the_servers_reason(cli: Cli, fake: FakeServices, status: int, detail: object,
                                          shown: str) -> None:
    fake._registry = lambda request: httpx.Response(status, json={"detail": detail})  # type: ignore[method-assign]

    result = cli("rollback", "support", "--alias", "canary", "--reason", "x")

    assert result.exit_code == 1
    assert f"registry refused POST /v1/adapters/support/aliases/canary/rollback: {status}" in result.output
    assert shown in result.output
    if isinstance(detail, str):
        assert detail in result.output
    assert "Traceback" not in result.output


def test_reason_of_reads_text_and_openai_style_errors() -> None:
    assert reason_of(httpx.Response(502, text="bad gateway")) == "bad gateway"
    assert reason_of(httpx.Response(404, json={"error": {"message": "model x not found"}})) == "model x not found"


def test_missing_token_is_explained_before_any_call(fake: FakeServices, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADAPTLOOP_TOKEN", raising=False)
    cli = Cli(fake, CliSettings(token=None, tokens_file=tmp_path / "absent.json"))

    result = cli("promote", "support", "3")

    assert result.exit_code == 1
    assert "no token: ADAPTLOOP_TOKEN is unset" in result.output
    assert str(tmp_path / "absent.json") in result.output
    assert "make up" in result.output
    assert fake.mutations() == []
    assert "Traceback" not in result.output


def test_the_local_stacks_admin_token_is_used_when_no_token_is_set(fake: FakeServices, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADAPTLOOP_TOKEN", raising=False)
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"admin": TOKEN, "trainer": "t", "reader": "r"}))
    cli = Cli(fake, CliSettings(token=None, tokens_file=tokens))

    result = cli("promote", "support", "3")

    assert result.exit_code == 0, result.output
    assert fake.mutations()[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_adaptloop_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTLOOP_TOKEN", "from-env")
    monkeypatch.setenv("ADAPTLOOP_CLI_REGISTRY_URL", "http://registry.example:9000")

    settings = CliSettings()

    assert settings.token is not None and settings.token.get_secret_value() == "from-env"
    assert settings.registry_url == "http://registry.example:9000"
    assert settings.trainer_url == "http://127.0.0.1:8003"


def test_unreachable_service_names_the_service_url_and_hint(cli: Cli, fake: FakeServices) -> None:
    fake.down = {"registry"}

    result = cli("versions", "support")

    assert result.exit_code == 1
    assert "the registry service at http://127.0.0.1:8002 is unreachable" in result.output
    assert "make up" in result.output and "ADAPTLOOP_CLI_REGISTRY_URL" in result.output
    assert "Traceback" not in result.output


def test_unreachable_for_real_without_a_fake(tmp_path: Path) -> None:
    """The installed command against a port nothing listens on: a message on stderr, exit 1."""
    env = {"ADAPTLOOP_CLI_TRAINER_URL": "http://127.0.0.1:9", "ADAPTLOOP_CLI_TIMEOUT_S": "2", "PATH": "/usr/bin"}
    done = subprocess.run([sys.executable, "-m", "adaptloop_cli.main", "jobs"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)

    assert done.returncode == 1
    assert "trainer service at http://127.0.0.1:9 is unreachable" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_main_module_runs_as_a_script_and_lists_every_command() -> None:
    done = subprocess.run([sys.executable, "-m", "adaptloop_cli.main", "--help"], capture_output=True, text=True,
                          timeout=60, check=False, env={"COLUMNS": "200", "PATH": "/usr/bin"})

    assert done.returncode == 0, done.stderr
    for command in ("status", "versions", "promote", "rollback", "approve", "reject", "train", "jobs", "upgrade-base",
                    "drift", "up", "down", "demo"):
        assert f" {command} " in done.stdout


def test_every_module_a_cli_hint_tells_to_run_exists() -> None:
    """A hint's `python -m MODULE` names a module of this repository (a package or a file), not a stale name."""
    root = Path(__file__).resolve().parents[3]
    named = {module for path in (root / "libs" / "cli" / "src").rglob("*.py")
             for module in re.findall(r"python -m ([\w.]+)", path.read_text())}
    sources = [*root.glob("libs/*/src"), *root.glob("services/*/src")]

    def exists(module: str) -> bool:
        base = Path(*module.split("."))
        return any((src / base).with_suffix(".py").is_file() or (src / base / "__main__.py").is_file()
                   for src in sources)

    assert "adaptloop_scenarios.model_manifest" in named
    assert [module for module in sorted(named) if not exists(module)] == []
