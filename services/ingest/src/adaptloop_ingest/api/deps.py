"""FastAPI dependencies: the wired components and the roles each route needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from adaptloop_common.auth import Principal, require_role
from adaptloop_common.privacy import PrivacyPolicy
from fastapi import Depends, Request

from adaptloop_ingest.config import Settings
from adaptloop_ingest.ports import ExampleRepository, Publisher


@dataclass(frozen=True)
class Components:
    """What the routes use; `bootstrap` builds the real ones, unit tests pass fakes."""

    settings: Settings
    publisher: Publisher
    store: ExampleRepository
    privacy: PrivacyPolicy


def _components(request: Request) -> Components:
    components: Components = request.app.state.components
    return components


ComponentsDep = Annotated[Components, Depends(_components)]
Writer = Annotated[Principal, Depends(require_role("trainer"))]
Reader = Annotated[Principal, Depends(require_role("reader"))]
