"""Every route of registry, ingest and drift (and the dashboard's JSON) declares the shape of its success answers.

The apps are built as their bootstraps build them, with nothing connected; inference and trainer run in the model
environment (tests/unit/inference, tests/unit/trainer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from adaptloop_contracts.openapi_check import untyped_operations
from fastapi import FastAPI


def _registry(tmp_path: Path) -> FastAPI:
    from adaptloop_registry.bootstrap import create_app
    from adaptloop_registry.config import Settings

    return create_app(Settings(database_url=f"sqlite:///{tmp_path}/registry.db", relay_enabled=False,
                               artifact_dir=str(tmp_path / "artifacts")))


def _ingest(tmp_path: Path) -> FastAPI:
    from adaptloop_ingest.bootstrap import create_app
    from adaptloop_ingest.config import Settings

    return create_app(Settings())


def _drift(tmp_path: Path) -> FastAPI:
    from adaptloop_drift.api.routes import create_http_app

    return create_http_app(tokens="", max_body_bytes=1024, checks={}, detector_state=list, policy_state=dict,
                           rollout_state=list, rollout_settings={}, set_paused=lambda *_: None,
                           signal_series=lambda _: [])


def _dashboard(tmp_path: Path) -> FastAPI:
    from adaptloop_dashboard.config import Settings
    from adaptloop_dashboard.main import create_app

    return create_app(Settings())


APPS = {"registry": _registry, "ingest": _ingest, "drift": _drift, "dashboard": _dashboard}


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_success_answer_has_a_schema(service: str, tmp_path: Path) -> None:
    document = APPS[service](tmp_path).openapi()

    assert document["paths"], f"{service} publishes no route"
    assert untyped_operations(document) == []


def test_an_untyped_answer_is_found() -> None:
    app = FastAPI()

    @app.get("/typed", response_model=dict[str, int])
    def typed() -> dict[str, int]:
        return {}

    @app.get("/untyped")
    def untyped() -> dict[str, Any]:
        return {}

    assert untyped_operations(app.openapi()) == ["GET /untyped 200 application/json: no schema"]
    text = {"paths": {"/metrics": {"get": {"responses": {"200": {"content": {"text/plain": {}}}}}},
                      "/bare": {"post": {"responses": {"201": {"description": "created"}}}}}}
    assert untyped_operations(text) == ["POST /bare 201: no content", "GET /metrics 200 text/plain: no schema"]
