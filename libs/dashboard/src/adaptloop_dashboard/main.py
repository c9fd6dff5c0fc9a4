"""Entry point: `python -m adaptloop_dashboard` (port 8005 by default)."""

from __future__ import annotations

from importlib import resources

import httpx
import uvicorn
from adaptloop_common.http import install_common
from adaptloop_common.telemetry import init_telemetry
from adaptloop_contracts.dashboard_api import Overview
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from adaptloop_dashboard.config import Settings
from adaptloop_dashboard.overview import gather


def create_app(settings: Settings, *, transport: httpx.BaseTransport | None = None) -> FastAPI:
    """The page and `/api/overview`; `transport` replaces the network to the services (tests)."""
    app = FastAPI(title="adaptloop dashboard")

    async def always_ready() -> tuple[bool, str]:
        return True, "serves whatever the services answer"

    install_common(app, max_body_bytes=settings.max_body_bytes, checks={"page": always_ready})
    page = resources.files("adaptloop_dashboard").joinpath("static/index.html").read_text()

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get("/api/overview", response_model=Overview, response_model_exclude_unset=True)
    async def overview() -> Overview:
        return await run_in_threadpool(lambda: gather(settings, transport=transport))

    return app


def main() -> None:
    settings = Settings()
    init_telemetry("adaptloop-dashboard", log_level=settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
