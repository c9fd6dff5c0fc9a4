"""Fixtures of the CLI tests (the fakes live in cli_fakes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from adaptloop_cli.settings import CliSettings
from cli_fakes import TOKEN, Cli, FakeServices, make_version, support_adapter


@pytest.fixture
def fake() -> FakeServices:
    services = FakeServices()
    services.adapters["support"] = support_adapter()
    services.versions["support"] = [
        make_version(n, status, metrics={"heldout_loss": loss}, served_requests=10 * n,
                     evaluation={"passed": True, "metrics": {}, "verdict": "better", "recorded_by": "local-trainer",
                                 "recorded_at": f"2025-01-0{n}T10:00:00+00:00"})
        for n, status, loss in ((1, "candidate", 2.5), (2, "production", 2.1), (3, "candidate", 1.9))]
    return services



@pytest.fixture
def cli(fake: FakeServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("ADAPTLOOP_TOKEN", raising=False)
    return Cli(fake, CliSettings(token=TOKEN, tokens_file=tmp_path / "tokens.json", models_dir=tmp_path / "models",
                                 poll_interval_s=0.0))
