"""`POST /v1/completions` (OpenAI legacy completions, streaming included)."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts.http_common import or_event_stream
from adaptloop_contracts.openai_api import Completion
from adaptloop_contracts.openai_requests import CompletionBody
from fastapi import APIRouter, Request, Response

from adaptloop_inference.api.auth import ApiKey
from adaptloop_inference.api.deps import Generation, request_id
from adaptloop_inference.api.options import asked, sampling_options, structured_output
from adaptloop_inference.api.responses import complete, envelope, stream, usage
from adaptloop_inference.generation import Generation as Admitted
from adaptloop_inference.generation import GenerationRequest
from adaptloop_inference.ports import GenerationChunk, TokenLogprob

router = APIRouter(tags=["openai"])
OBJECT = "text_completion"


@router.post("/v1/completions", response_model=Completion, responses=or_event_stream(
    "the completion; with `stream: true`, server-sent events of `Completion` chunks"))
async def create_completion(body: CompletionBody, request: Request, service: Generation, _key: ApiKey) -> Response:
    options = sampling_options(body, max_tokens=body.max_tokens or request.app.state.settings.default_max_tokens,
                               top_logprobs=body.logprobs, structured=structured_output(body.response_format, None))
    generation = await service.admit(GenerationRequest(
        request_id=request_id(request, "cmpl"), kind="completion", model=body.model, prompt=body.prompt_text(),
        options=options, user=body.user, tenant=request.headers.get("x-adaptloop-tenant"),
        asked=asked(body, None, body.logprobs),
    ))
    if body.stream:
        return stream(service, generation, _chunk, "completions", include_usage=body.include_usage,
                      object_type=OBJECT)
    return await complete(service, generation, _final, "completions")


def _chunk(generation: Admitted, chunk: GenerationChunk) -> dict[str, Any]:
    logprobs = None
    if chunk.logprobs is not None:
        earlier = generation.result.choice(chunk.index).logprobs[: -len(chunk.logprobs) or None]
        offset = sum(len(t.token) for t in earlier) if chunk.logprobs else 0
        logprobs = _logprobs(chunk.logprobs, offset)
    choice = {"index": chunk.index, "text": chunk.text, "logprobs": logprobs, "finish_reason": chunk.finish_reason}
    return {**envelope(generation, OBJECT), "choices": [choice]}


def _final(generation: Admitted) -> dict[str, Any]:
    asked_logprobs = generation.request.options.top_logprobs is not None
    choices = [{"index": index, "text": choice.text,
                "logprobs": _logprobs(choice.logprobs, 0) if asked_logprobs else None,
                "finish_reason": choice.finish_reason}
               for index, choice in sorted(generation.result.choices.items())]
    return {**envelope(generation, OBJECT), "choices": choices, "usage": usage(generation)}


def _logprobs(tokens: tuple[TokenLogprob, ...] | list[TokenLogprob], offset: int) -> dict[str, Any]:
    """OpenAI's legacy shape: parallel lists, `text_offset` counted from the start of the completion."""
    offsets = []
    for token in tokens:
        offsets.append(offset)
        offset += len(token.token)
    return {"tokens": [t.token for t in tokens], "token_logprobs": [t.logprob for t in tokens],
            "top_logprobs": [dict(t.top) for t in tokens], "text_offset": offsets}
