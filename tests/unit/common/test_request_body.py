"""The request-body guard: a lone surrogate is refused with 400, bodies over the limit with 413."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from adaptloop_common.request_body import RequestBodyGuard, unkeepable_text
from fastapi import FastAPI, Request


@pytest.mark.parametrize(("body", "problem"), [
    (rb'{"prompt": "a\ud800b"}', "body.prompt holds a lone UTF-16 surrogate (\\ud800) at index 1"),
    (rb'{"m": [{"content": "\udc00"}]}', "body.m[0].content holds a lone UTF-16 surrogate (\\udc00)"),
    (rb'{"\ud800": 1}', "body key holds a lone UTF-16 surrogate"),
])
def test_unkeepable_text_is_named_with_its_path(body: bytes, problem: str) -> None:
    found = unkeepable_text(body)
    assert found is not None and found.startswith(problem)


def test_nesting_past_the_parser_is_left_to_the_route_not_raised() -> None:
    deep = b"[" * 100_000 + b'"\\ud800"' + b"]" * 100_000
    assert unkeepable_text(deep) is None


@pytest.mark.parametrize("body", [
    rb'{"prompt": "\ud83d\ude00 a pair is one character"}',
    rb'{"prompt": "\\ud800 is an escaped backslash, not a surrogate"}',
    b'{"prompt": "control \\u0000 \\u0007 \\u001b[31m and tabs\\t are text"}',
    b'{not json \\ud800',
])
def test_keepable_or_unparsed_bodies_pass(body: bytes) -> None:
    assert unkeepable_text(body) is None


def _app(max_bytes: int = 100) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.put("/upload")
    async def upload(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    app.add_middleware(RequestBodyGuard, max_bytes=max_bytes, path_limits={"/upload": 1000},
                       error_body=lambda status, message: json.dumps({"error": {"message": message}}).encode())
    return app


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_guard_answers_in_the_services_format_and_passes_good_bodies() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as client:
        ok = await client.post("/echo", content=b'{"a": "\\ud83d\\ude00"}')
        assert ok.status_code == 200 and ok.json() == {"size": 21}
        bad = await client.post("/echo", content=b'{"a": "\\ud800"}')
        assert bad.status_code == 400 and "lone UTF-16 surrogate" in bad.json()["error"]["message"]
        big = await client.post("/echo", content=b"x" * 101)
        assert big.status_code == 413 and big.json()["error"]["message"] == "request body larger than 100 bytes"
        streamed = await client.put("/upload", content=b"x" * 900)
        assert streamed.status_code == 200 and streamed.json() == {"size": 900}
        too_big = await client.put("/upload", content=_chunks(b"x" * 600, b"x" * 600))
        assert too_big.status_code == 413
