"""Tokens scoped to adapters: parsing, checks, and the path guard every service installs."""

from __future__ import annotations

import pytest
from adaptloop_common.auth import TokenTable, Viewer, require_role, token_digest
from adaptloop_common.http import install_common
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient


def _spec() -> str:
    return ",".join([
        f"ops:admin:{token_digest('all')}",
        f"acme:trainer:{token_digest('acme')}:support|billing",
    ])


def test_scope_parsed_and_checked() -> None:
    table = TokenTable(_spec())
    acme = table.lookup("acme")
    assert acme is not None and acme.scoped and acme.adapters == {"support", "billing"}
    assert acme.may_use("support:canary") and acme.may_use("billing@3") and not acme.may_use("legal")
    assert acme.visible(["support", "legal"]) == {"support"}
    admin = table.lookup("all")
    assert admin is not None and not admin.scoped and admin.may_use("legal")


@pytest.mark.parametrize("scope", ["", "Support", "a b", "ok|", "x" * 64])
def test_malformed_scope_rejected(scope: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        TokenTable(f"acme:trainer:{token_digest('acme')}:{scope}")


def test_path_guard_refuses_other_adapters_before_the_handler() -> None:
    app = FastAPI()
    app.state.token_table = TokenTable(_spec())
    install_common(app, max_body_bytes=1024, checks={})
    calls: list[str] = []

    @app.post("/v1/adapters/{name}/pause")
    def pause(name: str, _: object = Depends(require_role("trainer"))) -> dict[str, str]:
        calls.append(name)
        return {"name": name}

    @app.get("/v1/adapters/{name}")
    def read(name: str, viewer: Viewer) -> dict[str, object]:
        return {"name": name, "scoped": viewer is not None and viewer.scoped}

    client = TestClient(app)
    acme = {"Authorization": "Bearer acme"}
    refused = client.post("/v1/adapters/legal/pause", headers=acme)
    assert refused.status_code == 403 and "legal" in refused.json()["detail"]
    assert client.get("/v1/adapters/legal", headers=acme).status_code == 403
    assert calls == []
    assert client.post("/v1/adapters/support/pause", headers=acme).status_code == 200
    assert client.get("/v1/adapters/support", headers=acme).json() == {"name": "support", "scoped": True}
    assert client.post("/v1/adapters/legal/pause", headers={"Authorization": "Bearer all"}).status_code == 200
    assert client.get("/v1/adapters/legal").json() == {"name": "legal", "scoped": False}
    assert calls == ["support", "legal"]
