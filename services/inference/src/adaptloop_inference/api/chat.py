"""`POST /v1/chat/completions`: the conversation is rendered with the model's own chat template."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts.http_common import or_event_stream
from adaptloop_contracts.openai_api import ChatCompletion
from adaptloop_contracts.openai_requests import ChatBody
from fastapi import APIRouter, Request, Response

from adaptloop_inference.api.auth import ApiKey
from adaptloop_inference.api.deps import Generation, request_id
from adaptloop_inference.api.options import (
    ExtractToolCalls,
    ToolCalling,
    asked,
    sampling_options,
    structured_output,
    tool_calling,
    tool_message,
)
from adaptloop_inference.api.responses import complete, envelope, stream, usage
from adaptloop_inference.generation import Generation as Admitted
from adaptloop_inference.generation import GenerationRequest
from adaptloop_inference.ports import GenerationChunk, TokenLogprob

router = APIRouter(tags=["openai"])
OBJECT = "chat.completion"
CHUNK_OBJECT = "chat.completion.chunk"


@router.post("/v1/chat/completions", response_model=ChatCompletion, responses=or_event_stream(
    "the answer; with `stream: true`, server-sent events of `chat.completion.chunk` objects"))
async def create_chat_completion(body: ChatBody, request: Request, service: Generation, _key: ApiKey) -> Response:
    settings = request.app.state.settings
    max_tokens = body.max_completion_tokens or body.max_tokens or settings.default_max_tokens
    tools = tool_calling(body, support=service.engine.tool_support, base_model=settings.base_model)
    top_logprobs = (body.top_logprobs or 0) if body.logprobs else None
    options = sampling_options(body, max_tokens=max_tokens, top_logprobs=top_logprobs,
                               structured=structured_output(body.response_format, tools),
                               keep_special_tokens=tools is not None and tools.keeps_special_tokens)
    extract = service.engine.extract_tool_calls
    generation = await service.admit(GenerationRequest(
        request_id=request_id(request, "chatcmpl"), kind="chat", model=body.model,
        messages=body.rendered_messages(), tools=[t.model_dump(exclude_none=True) for t in body.tools or []] or None,
        options=options, user=body.user, tenant=request.headers.get("x-adaptloop-tenant"),
        asked=asked(body, tools, top_logprobs),
    ))
    if body.stream:
        opening = [{**envelope(generation, CHUNK_OBJECT),
                    "choices": [{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                                 "finish_reason": None}]} for i in range(body.n)]
        return stream(service, generation, lambda g, c: _chunk(g, c, tools, extract), "chat",
                      include_usage=body.include_usage, object_type=CHUNK_OBJECT, opening=opening)
    return await complete(service, generation, lambda g: _final(g, tools, extract), "chat")


def _chunk(generation: Admitted, chunk: GenerationChunk, tools: ToolCalling | None,
           extract: ExtractToolCalls) -> dict[str, Any] | None:
    """One delta; a tool-calling answer (`auto` too) is held back until complete and sent as one delta (`tool_calls`,
    or `content` when an `auto` answer called nothing)."""
    logprobs = _logprobs(chunk.logprobs) if chunk.logprobs is not None else None
    if tools is None:
        delta: dict[str, Any] = {"content": chunk.text} if chunk.text else {}
        finish = chunk.finish_reason
    elif chunk.finish_reason is None:
        return None
    else:
        choice = generation.result.choice(chunk.index)
        message, finish = tool_message(choice.text, choice.finish_reason, tools, extract)
        delta = {key: value for key, value in message.items() if key != "role"}
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        if chunk.logprobs is not None:
            logprobs = _logprobs(choice.logprobs)
    choice_body = {"index": chunk.index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
    return {**envelope(generation, CHUNK_OBJECT), "choices": [choice_body]}


def _final(generation: Admitted, tools: ToolCalling | None, extract: ExtractToolCalls) -> dict[str, Any]:
    asked_logprobs = generation.request.options.top_logprobs is not None
    choices = []
    for index, choice in sorted(generation.result.choices.items()):
        if tools is None:
            message: dict[str, Any] = {"role": "assistant", "content": choice.text}
            finish = choice.finish_reason
        else:
            message, finish = tool_message(choice.text, choice.finish_reason, tools, extract)
        choices.append({"index": index, "message": message,
                        "logprobs": _logprobs(choice.logprobs) if asked_logprobs else None, "finish_reason": finish})
    return {**envelope(generation, OBJECT), "choices": choices, "usage": usage(generation)}


def _logprobs(tokens: tuple[TokenLogprob, ...] | list[TokenLogprob]) -> dict[str, Any]:
    return {"content": [{**_entry(t.token, t.logprob),
                         "top_logprobs": [_entry(token, logprob) for token, logprob in t.top]} for t in tokens],
            "refusal": None}


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}
