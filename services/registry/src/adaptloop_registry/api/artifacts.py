"""Routes: artifact upload (streamed, verified) and download by sha256."""

from __future__ import annotations

from typing import Annotated, Any

from adaptloop_contracts.http_common import binary_answer
from adaptloop_contracts.registry_answers import ArtifactStored
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from adaptloop_registry.api.deps import Runtime, TrainerCaller
from adaptloop_registry.artifacts import artifact_info, upload_artifact
from adaptloop_registry.errors import NotFound

router = APIRouter(prefix="/v1/artifacts", tags=["artifacts"])


@router.put("/{sha256}", status_code=201, response_model=ArtifactStored,
            responses={200: {"description": "already stored", "model": ArtifactStored}})
async def put_artifact(sha256: str, request: Request, runtime: Runtime, caller: TrainerCaller,
                       filename: Annotated[str, Query(max_length=256)]) -> JSONResponse:
    answer, created = await upload_artifact(
        request.stream(), sha256=sha256, filename=filename, store=runtime.store, db=runtime.db, caller=caller,
        max_bytes=runtime.settings.max_artifact_bytes, base_url=runtime.base_url)
    return JSONResponse(answer, status_code=201 if created else 200)


@router.get("/{sha256}", response_class=StreamingResponse,
            responses=binary_answer("application/octet-stream", "the bytes (`application/json` for a config)"))
async def get_artifact(sha256: str, runtime: Runtime) -> StreamingResponse:
    info: dict[str, Any] = await run_in_threadpool(artifact_info, runtime.db, sha256)
    if runtime.store.size(sha256) is None:
        raise NotFound(f"artifact {sha256} is recorded but its bytes are missing from the store")
    media = "application/json" if info["kind"] == "config" else "application/octet-stream"
    return StreamingResponse(runtime.store.read(sha256), media_type=media, headers={
        "content-length": str(info["size"]), "x-adaptloop-sha256": sha256, "x-adaptloop-artifact-kind": info["kind"],
        "content-disposition": f'attachment; filename="{info["filename"]}"'})
