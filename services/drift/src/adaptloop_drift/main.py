"""Entry point: settings, telemetry, topics, then the faust worker with the signal consumer and HTTP."""

from __future__ import annotations

import logging

import faust
from adaptloop_common.telemetry import init_telemetry, shutdown_telemetry

from adaptloop_drift.bootstrap import build_service
from adaptloop_drift.config import Settings

log = logging.getLogger(__name__)


def main() -> None:
    settings = Settings()
    init_telemetry("adaptloop-drift", log_level=settings.log_level)
    service = build_service(settings)
    service.prepare()
    service.signals.start()
    service.start_http()
    log.info("drift service on port %d, app id %s", settings.port, settings.app_id)
    worker = faust.Worker(service.policy.app, loglevel=settings.log_level.lower().replace("warning", "warn"),
                          quiet=True, redirect_stdouts=False, override_logging=False)
    try:
        worker.execute_from_commandline()
    finally:
        service.signals.stop()
        service.producer.flush(10.0)
        shutdown_telemetry()


if __name__ == "__main__":
    main()
