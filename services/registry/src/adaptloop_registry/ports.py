"""What the registry's outbox relay needs from the outside world; `adaptloop_kafka.EventProducer` implements it,
unit tests pass fakes."""

from __future__ import annotations

from typing import Any, Protocol


class RawProducer(Protocol):
    """What the relay needs from `adaptloop_kafka.EventProducer`."""

    def produce_raw(self, topic: str, value: bytes | None, *, key: bytes | None,
                    headers: list[tuple[str, bytes]] | None, on_delivery: Any = None) -> None: ...

    def poll(self, timeout_s: float = 0.0) -> int: ...
