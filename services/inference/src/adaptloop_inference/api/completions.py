"""`POST /v1/completions` (OpenAI legacy completions, streaming included)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from adaptloop_inference.api.auth import ApiKey
from adaptloop_inference.api.deps import Generation, request_id
from adaptloop_inference.api.responses import complete, envelope, stream, usage
from adaptloop_inference.api.schemas import CompletionBody
from adaptloop_inference.generation import Generation as Admitted
from adaptloop_inference.generation import GenerationRequest
from adaptloop_inference.ports import GenerationChunk, SamplingOptions

router = APIRouter(tags=["openai"])
OBJECT = "text_completion"


@router.post("/v1/completions")
async def create_completion(body: CompletionBody, request: Request, service: Generation, _key: ApiKey) -> Response:
    generation = await service.admit(GenerationRequest(
        request_id=request_id(request, "cmpl"), kind="completion", model=body.model, prompt=body.prompt_text(),
        options=SamplingOptions(
            max_tokens=body.max_tokens or request.app.state.settings.default_max_tokens,
            temperature=body.temperature, top_p=body.top_p, seed=body.seed, stop=body.stop_strings(),
        ),
        user=body.user, tenant=request.headers.get("x-adaptloop-tenant"),
    ))
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return stream(service, generation, _chunk, "completions", include_usage=include_usage, object_type=OBJECT)
    return await complete(service, generation, _final, "completions")


def _chunk(generation: Admitted, chunk: GenerationChunk) -> dict[str, Any]:
    choice = {"index": 0, "text": chunk.text, "logprobs": None, "finish_reason": chunk.finish_reason}
    return {**envelope(generation, OBJECT), "choices": [choice]}


def _final(generation: Admitted) -> dict[str, Any]:
    result = generation.result
    choice = {"index": 0, "text": result.text, "logprobs": None, "finish_reason": result.finish_reason}
    return {**envelope(generation, OBJECT), "choices": [choice], "usage": usage(generation)}
