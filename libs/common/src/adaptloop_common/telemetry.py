"""OpenTelemetry and structured logging, configured once in each service's `main`.

Exporters follow the standard `OTEL_*` variables: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_TRACES_EXPORTER=otlp`) spans go to an OTLP collector; `OTEL_SDK_DISABLED=true` turns
tracing off. `ADAPTLOOP_SPAN_FILE` additionally appends finished spans as JSON lines.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

_configured = False


class JsonLinesSpanExporter(SpanExporter):
    """Appends spans to a file, one JSON object a line (for tests and offline inspection).

    Several processes append to one file (every service of a stack, the drift worker and its signal
    processes), so each batch goes out as one `os.write` on a descriptor opened with `O_APPEND`: the
    kernel places it whole at the end of the file, and no other process's line lands inside one of
    ours, whatever the size of the lines. A buffered or text-mode file would leave the number of
    writes to its buffering.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for s in spans:
            ctx = s.get_span_context()
            if ctx is None:  # not a recorded span: nothing to identify it by
                continue
            lines.append(
                json.dumps(
                    {
                        "name": s.name,
                        "trace_id": format(ctx.trace_id, "032x"),
                        "span_id": format(ctx.span_id, "016x"),
                        "parent_span_id": format(s.parent.span_id, "016x") if s.parent else None,
                        "links": [
                            {
                                "trace_id": format(link.context.trace_id, "032x"),
                                "span_id": format(link.context.span_id, "016x"),
                            }
                            for link in s.links
                        ],
                        "service": s.resource.attributes.get("service.name"),
                        "start_ns": s.start_time,
                        "end_ns": s.end_time,
                        "attributes": {
                            k: (v if isinstance(v, (str, int, float, bool)) else str(v))
                            for k, v in (s.attributes or {}).items()
                        },
                    }
                )
            )
        if lines:
            self._append(("\n".join(lines) + "\n").encode())
        return SpanExportResult.SUCCESS

    def _append(self, data: bytes) -> None:
        with self._lock:
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                view = memoryview(data)
                while view:
                    # Short only when the disk is full or a size limit is hit; the rest is still appended.
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)


class _JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        span = trace.get_current_span().get_span_context()
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if span.is_valid:
            payload["trace_id"] = format(span.trace_id, "032x")
            payload["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload)


def init_telemetry(service_name: str, *, log_level: str = "INFO") -> None:
    """Configure logging and tracing for this process; later calls are no-ops."""
    global _configured
    if _configured:
        return
    _configured = True
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(log_level.upper())
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return
    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    )
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_TRACES_EXPORTER") == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    span_file = os.environ.get("ADAPTLOOP_SPAN_FILE")
    if span_file:
        provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(span_file), schedule_delay_millis=200))
    trace.set_tracer_provider(provider)
    # Outgoing HTTP calls between services carry the trace context (traceparent) too.
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument()


def shutdown_telemetry() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
