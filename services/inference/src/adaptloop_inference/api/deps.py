"""FastAPI dependencies: the objects `bootstrap` placed on `app.state`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from adaptloop_inference.generation import GenerationService
from adaptloop_inference.swap_manager import SwapManager


def get_generation(request: Request) -> GenerationService:
    return request.app.state.generation  # type: ignore[no-any-return]


def get_swaps(request: Request) -> SwapManager:
    return request.app.state.swaps  # type: ignore[no-any-return]


def request_id(request: Request, prefix: str) -> str:
    given = request.headers.get("x-request-id", "")[:100]
    return f"{prefix}-{given}-{uuid.uuid4().hex[:8]}" if given else f"{prefix}-{uuid.uuid4().hex}"


Generation = Annotated[GenerationService, Depends(get_generation)]
Swaps = Annotated[SwapManager, Depends(get_swaps)]
