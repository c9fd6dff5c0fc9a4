"""Adapter scopes of tokens on ingest's batch bodies: every item must name an adapter the token may use."""

from __future__ import annotations

import json

from adaptloop_common.auth import Principal


def require_scope(principal: Principal, body: bytes, field: str) -> None:
    """403 (nothing published or stored) when any item's `field` names an adapter outside a scoped token's reach.

    An unparsable body is left to the handler, which answers 400.
    """
    if not principal.scoped:
        return
    try:
        data = json.loads(body)
    except ValueError:
        return
    items = data if isinstance(data, list) else [data]
    principal.require_adapters(
        str(item[field]) for item in items if isinstance(item, dict) and isinstance(item.get(field), str))
