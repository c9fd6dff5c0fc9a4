"""The benchmark's framework baseline: a bare FastAPI endpoint answering an alias read with a constant,
served exactly as the registry is (`adaptloop_registry.main.uvicorn_options`: same server, loop, parser,
workers, read from the same `ADAPTLOOP_REGISTRY_*` variables).

    ADAPTLOOP_REGISTRY_PORT=8102 var/venv/stream/bin/python bench/registry/bare_app.py
"""

from __future__ import annotations

from pathlib import Path

import uvicorn
from adaptloop_registry.config import Settings
from adaptloop_registry.main import uvicorn_options
from fastapi import FastAPI

ANSWER = {"adapter": "adapter-0001", "alias": "production", "version": 20, "weight": None,
          "updated_by": "bench", "updated_at": "2026-01-01T00:00:00+00:00"}

app = FastAPI()


@app.get("/v1/adapters/{name}/aliases/{alias}")
async def get_alias(name: str, alias: str) -> dict[str, object]:
    return ANSWER


@app.get("/readyz")
async def readyz() -> dict[str, bool]:
    return {"ready": True}


if __name__ == "__main__":
    settings = Settings()
    if settings.workers > 1:
        uvicorn.run("bare_app:app", workers=settings.workers, app_dir=str(Path(__file__).parent),
                    **uvicorn_options(settings))
    else:
        uvicorn.run(app, **uvicorn_options(settings))
