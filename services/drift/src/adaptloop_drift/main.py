"""Entry point: settings, telemetry, topics, the signal consumer (child processes or a thread), then the faust
worker with HTTP."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import faust
from adaptloop_common.telemetry import init_telemetry, shutdown_telemetry
from adaptloop_kafka.producer import PUBLISH_FAILED, PUBLISHED

from adaptloop_drift import metrics
from adaptloop_drift.bootstrap import build_runtime
from adaptloop_drift.config import Settings
from adaptloop_drift.infra.gathered_metrics import gather_metrics
from adaptloop_drift.infra.signal_metrics import register_signal_means
from adaptloop_drift.infra.signal_supervisor import SignalProcesses

log = logging.getLogger(__name__)


class _Worker(faust.Worker):
    """A faust worker whose stop on SIGTERM/SIGINT is bounded.

    faust's own shutdown can hang on a table store; the detector state that matters is
    checkpointed by the signal consumer, so after `deadline_s` the process finishes that
    cleanup and exits instead of waiting to be killed.
    """

    def __init__(self, *args: Any, deadline_s: float, cleanup: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline_s = deadline_s
        self._cleanup = cleanup
        self._timer: threading.Timer | None = None

    def _arm_deadline(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(self._deadline_s, self._exit_now)
            self._timer.daemon = True
            self._timer.start()

    def _exit_now(self) -> None:
        log.warning("faust did not stop within %.0f s of the signal; exiting after the cleanup", self._deadline_s)
        self._cleanup()
        os._exit(0)

    def _on_sigterm(self) -> None:
        self._arm_deadline()
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self._arm_deadline()
        super()._on_sigint()


def main() -> None:
    settings = Settings()
    init_telemetry("adaptloop-drift", log_level=settings.log_level)
    service = build_runtime(settings)
    register_signal_means(service.signals.snapshot)
    if isinstance(service.signals, SignalProcesses):
        gather_metrics(service.signals, [*metrics.GATHERED, PUBLISHED, PUBLISH_FAILED])
    service.prepare()
    service.signals.start()
    if service.decisions is not None:
        service.decisions.start()
    service.start_http()
    log.info("drift service on port %d, app id %s, signal consumer %s", settings.port, settings.app_id,
             f"in {service.signals.count} processes" if isinstance(service.signals, SignalProcesses)
             else "in a thread")
    cleaning = threading.Lock()
    cleaned = threading.Event()

    def cleanup() -> None:
        # Runs once; a second caller (the deadline timer racing the normal exit) waits for the
        # first to finish, so the process never exits with the checkpoint half written.
        with cleaning:
            if cleaned.is_set():
                return
            if isinstance(service.signals, SignalProcesses):  # each child writes its final checkpoint
                service.signals.stop(timeout_s=settings.shutdown_timeout_s + 5.0)
            else:
                service.signals.stop(timeout_s=5.0)
            if service.decisions is not None:
                service.decisions.stop(timeout_s=2.0)
            service.producer.flush(5.0)
            shutdown_telemetry()
            cleaned.set()

    worker = _Worker(service.policy.app, loglevel=settings.log_level.lower().replace("warning", "warn"),
                     quiet=True, redirect_stdouts=False, override_logging=False,
                     deadline_s=settings.shutdown_timeout_s, cleanup=cleanup)
    try:
        worker.execute_from_commandline()
    finally:
        cleanup()


if __name__ == "__main__":
    main()
