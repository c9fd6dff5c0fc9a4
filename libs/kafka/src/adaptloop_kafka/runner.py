"""Runs an `EventConsumer` on a background thread, restarting a crashed loop with a fresh consumer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from adaptloop_kafka.consumer import EventConsumer, Handler

log = logging.getLogger(__name__)

ConsumerFactory = Callable[[], EventConsumer]


class ConsumerThread:
    """A consumer loop in the background.

    A loop that raises (its offset uncommitted, so the event is delivered again) is logged and
    `on_crash` called; with `restart_backoff_s` a new consumer from `make_consumer` rejoins the group
    after that pause, with None the thread ends (the service has another way to converge).
    """

    def __init__(
        self, make_consumer: ConsumerFactory, handler: Handler, *, name: str,
        restart_backoff_s: float | None = 1.0, on_crash: Callable[[], None] | None = None,
    ) -> None:
        self._make_consumer = make_consumer
        self._handler = handler
        self.name = name
        self._backoff_s = restart_backoff_s
        self._on_crash = on_crash
        self._stop = threading.Event()
        self._current: EventConsumer | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    @property
    def current(self) -> EventConsumer | None:
        return self._current

    @property
    def assigned(self) -> bool:
        """The loop runs and its consumer has partitions."""
        current = self._current
        return self._thread.is_alive() and current is not None and current.assigned.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        if self._current is not None:
            self._current.stop()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                consumer = self._make_consumer()
                self._current = consumer
                if self._stop.is_set():  # stop() may have run before `_current` was set
                    consumer.stop()
                consumer.run(self._handler)
            except Exception:
                if self._on_crash is not None:
                    self._on_crash()
                if self._backoff_s is None:
                    log.exception("%s crashed and stopped", self.name)
                    return
                log.exception("%s crashed; restarting in %.1fs", self.name, self._backoff_s)
                self._stop.wait(self._backoff_s)
