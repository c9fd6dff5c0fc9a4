"""Entry point: telemetry, the app, uvicorn on the configured address (SIGTERM stops it cleanly)."""

from __future__ import annotations

from typing import Any

import uvicorn
from adaptloop_common.telemetry import init_telemetry, shutdown_telemetry
from fastapi import FastAPI

from adaptloop_registry.bootstrap import create_app
from adaptloop_registry.config import Settings


def app_factory() -> FastAPI:
    """Builds the app inside each worker process (used when `workers` > 1)."""
    settings = Settings()
    init_telemetry("registry", log_level=settings.log_level)
    return create_app(settings)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the registry (also used by the benchmark's bare endpoint, so both are served alike)."""
    return {"host": settings.host, "port": settings.port, "log_config": None, "log_level": settings.log_level.lower(),
            "timeout_graceful_shutdown": 10, "loop": settings.loop, "http": settings.http_parser}


def main() -> None:
    settings = Settings()
    init_telemetry("registry", log_level=settings.log_level)
    options = uvicorn_options(settings)
    try:
        if settings.workers > 1:
            uvicorn.run("adaptloop_registry.main:app_factory", factory=True, workers=settings.workers, **options)
        else:
            uvicorn.run(create_app(settings), **options)
    finally:
        shutdown_telemetry()


if __name__ == "__main__":
    main()
