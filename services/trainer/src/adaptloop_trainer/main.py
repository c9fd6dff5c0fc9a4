"""Entry point: telemetry, settings, wiring, then the HTTP server (which starts the workers)."""

from __future__ import annotations

import uvicorn
from adaptloop_common.telemetry import init_telemetry, shutdown_telemetry

from adaptloop_trainer.bootstrap import create_app
from adaptloop_trainer.config import Settings


def main() -> None:
    settings = Settings()  # type: ignore[call-arg]
    init_telemetry("adaptloop-trainer", log_level=settings.log_level)
    app = create_app(settings)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)
    finally:
        shutdown_telemetry()


if __name__ == "__main__":
    main()
