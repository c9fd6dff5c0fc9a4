"""`POST /v1/chat/completions`: the conversation is rendered with the model's own chat template."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from adaptloop_inference.api.auth import ApiKey
from adaptloop_inference.api.deps import Generation, request_id
from adaptloop_inference.api.responses import complete, envelope, stream, usage
from adaptloop_inference.api.schemas import ChatBody
from adaptloop_inference.generation import Generation as Admitted
from adaptloop_inference.generation import GenerationRequest
from adaptloop_inference.ports import GenerationChunk, SamplingOptions

router = APIRouter(tags=["openai"])
OBJECT = "chat.completion"
CHUNK_OBJECT = "chat.completion.chunk"


@router.post("/v1/chat/completions")
async def create_chat_completion(body: ChatBody, request: Request, service: Generation, _key: ApiKey) -> Response:
    max_tokens = body.max_completion_tokens or body.max_tokens or request.app.state.settings.default_max_tokens
    generation = await service.admit(GenerationRequest(
        request_id=request_id(request, "chatcmpl"), kind="chat", model=body.model,
        messages=body.rendered_messages(),
        options=SamplingOptions(max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p,
                                seed=body.seed, stop=body.stop_strings()),
        user=body.user, tenant=request.headers.get("x-adaptloop-tenant"),
    ))
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        opening = {**envelope(generation, CHUNK_OBJECT),
                   "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        return stream(service, generation, _chunk, "chat", include_usage=include_usage, object_type=CHUNK_OBJECT,
                      opening=opening)
    return await complete(service, generation, _final, "chat")


def _chunk(generation: Admitted, chunk: GenerationChunk) -> dict[str, Any]:
    delta = {"content": chunk.text} if chunk.text else {}
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": chunk.finish_reason}
    return {**envelope(generation, CHUNK_OBJECT), "choices": [choice]}


def _final(generation: Admitted) -> dict[str, Any]:
    result = generation.result
    message = {"role": "assistant", "content": result.text}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": result.finish_reason}
    return {**envelope(generation, OBJECT), "choices": [choice], "usage": usage(generation)}
