"""HTTP shapes every service shares: the answer base class, health and readiness, and the non-JSON answers.

Answers are open (`extra="allow"`): a field a newer service adds reaches an older client intact, and a
route never drops a field its model does not name yet.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    """Base of every HTTP answer body: parsed by clients, declared as `response_model` by the routes."""

    model_config = ConfigDict(extra="allow")


class Health(Answer):
    status: str


class Check(Answer):
    ok: bool
    detail: str


class Readiness(Answer):
    """`GET /readyz`: 200 when every check passes, else 503 with the same body."""

    ready: bool
    checks: dict[str, Check]


def text_answer(media_type: str, description: str, *, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route answering text (Prometheus, JSON lines, server-sent events): the media type and a
    string schema, so the OpenAPI document describes it."""
    return {status: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}}


def binary_answer(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route answering bytes (an artifact)."""
    return {200: {"description": description,
                  "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}


def or_event_stream(description: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a JSON route that streams server-sent events when asked (`stream: true`)."""
    return {200: {"description": description, "content": {"text/event-stream": {"schema": {"type": "string"}}}}}
