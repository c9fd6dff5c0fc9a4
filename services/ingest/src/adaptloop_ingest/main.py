"""Entry point: telemetry, wiring, and the HTTP server (SIGTERM drains and flushes before exit)."""

from __future__ import annotations

import uvicorn
from adaptloop_common.telemetry import init_telemetry, shutdown_telemetry

from adaptloop_ingest.bootstrap import create_app
from adaptloop_ingest.config import Settings


def main() -> None:
    settings = Settings()
    init_telemetry("adaptloop-ingest", log_level=settings.log_level)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=int(settings.publish_timeout_s) + 5,
    ))
    try:
        server.run()
    finally:
        shutdown_telemetry()


if __name__ == "__main__":
    main()
