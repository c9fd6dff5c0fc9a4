"""Answer bodies of inference's OpenAI-compatible API (what the official `openai` client reads).

Streams (`stream: true`) send the same choice shapes as server-sent events (`text/event-stream`), one chunk a
`data:` line, ending with `data: [DONE]`.
"""

from __future__ import annotations

from typing import Any

from adaptloop_contracts.http_common import Answer


class ModelCard(Answer):
    id: str
    object: str = "model"
    created: int
    owned_by: str


class ModelList(Answer):
    """`GET /v1/models`: every servable name (base model, adapters, aliases, versions)."""

    object: str = "list"
    data: list[ModelCard]


class Usage(Answer):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CompletionChoice(Answer):
    index: int
    text: str
    logprobs: dict[str, Any] | None
    """OpenAI's legacy shape: `tokens`, `token_logprobs`, `top_logprobs`, `text_offset`."""
    finish_reason: str | None


class Completion(Answer):
    """`POST /v1/completions`."""

    id: str
    object: str
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class AssistantMessage(Answer):
    role: str
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChatChoice(Answer):
    index: int
    message: AssistantMessage
    logprobs: dict[str, Any] | None
    finish_reason: str | None


class ChatCompletion(Answer):
    """`POST /v1/chat/completions`."""

    id: str
    object: str
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = None
