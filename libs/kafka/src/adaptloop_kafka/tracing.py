"""W3C trace context in Kafka headers (`traceparent`, `tracestate`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from confluent_kafka import Message
from opentelemetry import propagate
from opentelemetry.context import Context

Headers = list[tuple[str, bytes]]
"""Headers as this library writes them."""
ReceivedHeaders = list[tuple[str, bytes | None]]
"""Headers as a consumed message carries them (a header may have no value)."""


def received_headers(msg: Message) -> ReceivedHeaders:
    """A consumed message's headers, as a new list (empty when it has none).

    librdkafka hands them over as (name, value-or-None) tuples; confluent-kafka's type stubs declare
    them only as sequences of `str | bytes | None`, hence the cast.
    """
    return cast(ReceivedHeaders, list(msg.headers() or []))


def trace_headers(context: Context | None = None) -> Headers:
    """Headers carrying the given (or current) trace context."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return [(k, v.encode("ascii")) for k, v in carrier.items()]


def headers_to_dict(headers: Sequence[tuple[str, bytes | str | None]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers or ():
        if value is None:
            continue
        out[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return out


def context_from_headers(headers: Sequence[tuple[str, bytes | str | None]] | None) -> Context:
    """The trace context a message was produced under (empty when it carried none)."""
    return propagate.extract(headers_to_dict(headers))
