"""Entry point: settings, telemetry, the app, the HTTP server."""

from __future__ import annotations

import uvicorn
from adaptloop_common.telemetry import init_telemetry, shutdown_telemetry

from adaptloop_inference.bootstrap import create_app
from adaptloop_inference.config import Settings


def main() -> None:
    settings = Settings()
    init_telemetry("adaptloop-inference", log_level=settings.log_level)
    app = create_app(settings)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                    access_log=False, timeout_graceful_shutdown=10)
    finally:
        shutdown_telemetry()
