"""Request bodies answered at the door: 413 for bodies over the limit, 400 for text no service can keep.

A body over the limit is read to its end (up to `DRAIN_LIMIT_BYTES`) before the 413 goes out, so
the client that is still sending reads an answer instead of a reset connection. A JSON body whose
strings hold a lone UTF-16 surrogate (`"\\ud800"`) is refused with 400: it is not Unicode text and
cannot be encoded as UTF-8, tokenized, logged to Kafka or stored, so it would only fail later, out
of sight of the caller. (Control characters are text; ingest strips the NUL PostgreSQL cannot
hold.) Streamed uploads (`path_limits`) are counted, never buffered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
"""Beyond this much, a refused body is not read further: the connection is closed instead."""
_SUSPECT = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
"""Escapes that may decode to a lone surrogate; bodies without one skip the JSON walk."""
_UNKEEPABLE = re.compile("[\ud800-\udfff]")

ErrorBody = Callable[[int, str], bytes]
"""Renders a refusal (status, message) as a JSON body; each service keeps its own error format."""


def detail_body(_status: int, message: str) -> bytes:
    return json.dumps({"detail": message}).encode()


def unkeepable_text(body: bytes) -> str | None:
    """Why a JSON body cannot be accepted (a lone surrogate in a string, with its path), else None."""
    if not _SUSPECT.search(body):
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON (or nested past the parser): the route answers that itself
    try:
        return _find_unkeepable(document, "body")
    except RecursionError:
        return "body nests too deeply to be checked"


def _find_unkeepable(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        found = _UNKEEPABLE.search(value)
        if found is None:
            return None
        return (f"{path} holds a lone UTF-16 surrogate (\\u{ord(found.group()):04x}) at index {found.start()}: "
                "not valid Unicode text")
    if isinstance(value, dict):
        for key, item in value.items():
            found_in = _find_unkeepable(key, f"{path} key") or _find_unkeepable(item, f"{path}.{key}")
            if found_in:
                return found_in
    if isinstance(value, list):
        for index, item in enumerate(value):
            found_in = _find_unkeepable(item, f"{path}[{index}]")
            if found_in:
                return found_in
    return None


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands on a body already read as one message, then whatever `receive` gives."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class RequestBodyGuard:
    """ASGI middleware: size limit by header or by counting, and the text check of buffered JSON bodies.

    `path_limits` maps a path prefix to its own limit for streamed uploads (the first match wins);
    those bodies are counted as they stream and not checked for text.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: dict[str, int] | None = None,
                 error_body: ErrorBody = detail_body) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        streamed = next((limit for prefix, limit in self.path_limits.items() if path.startswith(prefix)), None)
        max_bytes = self.max_bytes if streamed is None else streamed
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._too_large(receive, send, max_bytes, already=0, declared=int(declared))
            return
        if streamed is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            await self._buffered(scope, receive, send, max_bytes)
        else:
            await self._counted(scope, receive, send, max_bytes)

    async def _buffered(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        """Read the whole (bounded) body, check its text, then hand it to the app as one message."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > max_bytes:
                await self._too_large(receive, send, max_bytes, already=seen,
                                      more=message.get("more_body", False))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = unkeepable_text(body)
        if problem is not None:
            await self._answer(send, 400, problem)
            return
        await self.app(scope, replay_body(body, receive), send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        seen = 0
        more = True

        async def limited_receive() -> Message:
            nonlocal seen, more
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                more = message.get("more_body", False)
                if seen > max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._too_large(receive, send, max_bytes, already=seen, more=more)

    async def _too_large(self, receive: Receive, send: Send, max_bytes: int, *, already: int,
                         declared: int | None = None, more: bool = True) -> None:
        """Read what the client still sends (bounded), then answer 413; past the bound, close."""
        close = declared is not None and declared > DRAIN_LIMIT_BYTES
        seen = already
        while more and not close:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            more = message.get("more_body", False)
            close = seen > DRAIN_LIMIT_BYTES
        await self._answer(send, 413, f"request body larger than {max_bytes} bytes", close=close)

    async def _answer(self, send: Send, status: int, message: str, *, close: bool = False) -> None:
        body = self.error_body(status, message)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
