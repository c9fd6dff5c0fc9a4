"""OpenAI response shapes (JSON and server-sent events) for a finished or streaming generation."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import JSONResponse, StreamingResponse

from adaptloop_inference import metrics
from adaptloop_inference.api.errors import EVENT_HEADER, VERSION_HEADER
from adaptloop_inference.generation import Generation, GenerationService
from adaptloop_inference.ports import GenerationChunk

log = logging.getLogger(__name__)

ChunkBody = Callable[[Generation, GenerationChunk], dict[str, Any] | None]
"""One chunk's event, or None to send nothing for it (a tool call is sent whole when complete)."""


def usage(generation: Generation) -> dict[str, int]:
    completion = generation.result.completion_tokens
    return {"prompt_tokens": generation.prompt_tokens, "completion_tokens": completion,
            "total_tokens": generation.prompt_tokens + completion}


def envelope(generation: Generation, object_type: str) -> dict[str, Any]:
    return {"id": generation.request.request_id, "object": object_type, "created": int(time.time()),
            "model": generation.request.model}


async def complete(service: GenerationService, generation: Generation, body: Callable[[Generation], dict[str, Any]],
                   endpoint: str) -> JSONResponse:
    """Run to the end and answer with one JSON object."""
    try:
        async for _ in service.run(generation):
            pass
    except Exception:
        metrics.REQUESTS.labels(endpoint, "error").inc()
        raise
    metrics.REQUESTS.labels(endpoint, "ok").inc()
    return JSONResponse(body(generation), headers=served_headers(generation))


def stream(service: GenerationService, generation: Generation, chunk_body: ChunkBody, endpoint: str,
           *, include_usage: bool, object_type: str, opening: list[dict[str, Any]] | None = None) -> StreamingResponse:
    """Server-sent events; the version header goes out with the first byte, before any token."""

    async def events() -> AsyncIterator[str]:
        try:
            for event in opening or ():
                yield _sse(event)
            async for chunk in service.run(generation):
                body = chunk_body(generation, chunk)
                if body is not None:
                    yield _sse(body)
            if include_usage:
                yield _sse({**envelope(generation, object_type), "choices": [], "usage": usage(generation)})
            yield "data: [DONE]\n\n"
        except Exception as exc:  # the stream already started; the error goes in-band
            metrics.REQUESTS.labels(endpoint, "error").inc()
            log.exception("stream %s failed", generation.request.request_id)
            yield _sse({"error": {"message": f"generation failed: {type(exc).__name__}", "type": "server_error",
                                  "param": None, "code": None}})
            return
        metrics.REQUESTS.labels(endpoint, "ok").inc()

    return StreamingResponse(
        events(), media_type="text/event-stream",
        headers={**served_headers(generation), "cache-control": "no-cache"},
    )


def served_headers(generation: Generation) -> dict[str, str]:
    """Which version served, and the log event to send feedback against."""
    return {VERSION_HEADER: generation.served_version, EVENT_HEADER: str(generation.log_event_id)}


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"
