"""Several processes appending spans to one `ADAPTLOOP_SPAN_FILE` at once: every line whole, none lost.

The drift worker and its signal processes (and every service of a stack) share one span file. The
lines here are a few KB to tens of KB, past the usual 8 KB buffers and 64 KB pipe and page sizes,
so a line written in more than one piece would let another process's bytes land inside it.
"""

from __future__ import annotations

import json
import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

from adaptloop_common.telemetry import JsonLinesSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

PROCESSES = 4
BATCHES = 30
BATCH_SIZE = 8  # every fifth batch is exported one span at a time instead


def _size(proc: int, seq: int) -> int:
    """Payload sizes from 1 KB to about 40 KB, different in every process."""
    return 1024 + (seq * 7919 + proc * 104729) % (39 * 1024)


def _export_many(path: str, proc: int, start: Barrier) -> None:
    """One process's share: all its spans finished first, then exported as fast as it can."""
    tracer = TracerProvider(resource=Resource.create({"service.name": f"appender-{proc}"})).get_tracer(__name__)
    spans: list[ReadableSpan] = []
    for seq in range(BATCHES * BATCH_SIZE):
        with tracer.start_as_current_span("append") as span:
            span.set_attribute("proc", proc)
            span.set_attribute("seq", seq)
            span.set_attribute("payload", chr(ord("a") + proc) * _size(proc, seq))
        assert isinstance(span, ReadableSpan)
        spans.append(span)
    exporter = JsonLinesSpanExporter(path)
    start.wait(timeout=60)
    for b in range(BATCHES):
        batch = spans[b * BATCH_SIZE:(b + 1) * BATCH_SIZE]
        if b % 5 == 4:
            for one in batch:
                exporter.export([one])
        else:
            exporter.export(batch)


def test_concurrent_processes_append_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=_export_many, args=(str(path), i, start)) for i in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    assert len(lines) == PROCESSES * BATCHES * BATCH_SIZE
    seen: set[tuple[int, int]] = set()
    for n, line in enumerate(lines):
        span = json.loads(line)  # an interleaved line is not JSON
        attrs = span["attributes"]
        proc, seq = attrs["proc"], attrs["seq"]
        assert attrs["payload"] == chr(ord("a") + proc) * _size(proc, seq), f"line {n} carries foreign bytes"
        assert span["service"] == f"appender-{proc}"
        seen.add((proc, seq))
    assert seen == {(p, s) for p in range(PROCESSES) for s in range(BATCHES * BATCH_SIZE)}
