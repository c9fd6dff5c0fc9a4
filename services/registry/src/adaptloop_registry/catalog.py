"""Base models and adapters: registering and reading them."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts import RegistryEvent
from sqlalchemy import Connection, Row, func, insert, select, update

from adaptloop_registry.caller import Caller, iso, utc_now
from adaptloop_registry.errors import Conflict, Invalid, NotFound
from adaptloop_registry.infra.tables import adapters, aliases, base_models, versions
from adaptloop_registry.models import AdapterSpec, BaseModelSpec, PromotionPolicy
from adaptloop_registry.outbox import audit, enqueue


def register_base_model(conn: Connection, spec: BaseModelSpec, *, caller: Caller) -> dict[str, Any]:
    if conn.execute(select(base_models.c.id).where(base_models.c.name == spec.name)).first():
        raise Conflict(f"base model {spec.name!r} is already registered")
    if spec.successor_of is not None and not conn.execute(
        select(base_models.c.id).where(base_models.c.name == spec.successor_of)
    ).first():
        raise Invalid(f"successor_of names unknown base model {spec.successor_of!r}")
    conn.execute(insert(base_models).values(**spec.model_dump(exclude={"reason"}), created_by=caller.actor,
                                            created_at=utc_now()))
    enqueue(conn, RegistryEvent(
        event_type="base_model.registered", model=spec.name, base_model=spec.name, sha256=spec.weights_sha256,
        actor=caller.actor, details={"version": spec.version, "successor_of": spec.successor_of},
    ), caller=caller)
    audit(conn, caller=caller, action="base_model.register", target=spec.name, details=spec.model_dump())
    return get_base_model(conn, spec.name)


def _base_model_view(row: Row[Any]) -> dict[str, Any]:
    return {
        "name": row.name, "version": row.version, "location": row.location,
        "weights_sha256": row.weights_sha256, "successor_of": row.successor_of,
        "created_by": row.created_by, "created_at": iso(row.created_at),
    }


def list_base_models(conn: Connection) -> list[dict[str, Any]]:
    return [_base_model_view(r) for r in conn.execute(select(base_models).order_by(base_models.c.name))]


def get_base_model(conn: Connection, name: str) -> dict[str, Any]:
    row = conn.execute(select(base_models).where(base_models.c.name == name)).first()
    if row is None:
        raise NotFound(f"base model {name!r} not found")
    return _base_model_view(row)


def create_adapter(conn: Connection, spec: AdapterSpec, *, caller: Caller) -> dict[str, Any]:
    if conn.execute(select(adapters.c.id).where(adapters.c.name == spec.name)).first():
        raise Conflict(f"adapter {spec.name!r} already exists")
    if not conn.execute(select(base_models.c.id).where(base_models.c.name == spec.base_model)).first():
        raise Invalid(f"base model {spec.base_model!r} is not registered")
    policy = spec.promotion_policy
    conn.execute(insert(adapters).values(
        name=spec.name, base_model=spec.base_model, training_config=spec.training_config,
        promotion_mode=policy.mode, canary_weight=policy.canary_weight,
        canary_min_requests=policy.canary_min_requests, next_version=1,
        created_by=caller.actor, created_at=utc_now(),
    ))
    audit(conn, caller=caller, action="adapter.create", target=spec.name, details=spec.model_dump())
    return get_adapter(conn, spec.name)


def set_promotion_policy(conn: Connection, name: str, policy: PromotionPolicy, *, caller: Caller) -> dict[str, Any]:
    row = lock_adapter(conn, name)
    conn.execute(update(adapters).where(adapters.c.id == row.id).values(
        promotion_mode=policy.mode, canary_weight=policy.canary_weight, canary_min_requests=policy.canary_min_requests,
    ))
    audit(conn, caller=caller, action="adapter.set_policy", target=name, details=policy.model_dump())
    return get_adapter(conn, name)


def find_adapter(conn: Connection, name: str) -> Row[Any]:
    row = conn.execute(select(adapters).where(adapters.c.name == name)).first()
    if row is None:
        raise NotFound(f"adapter {name!r} not found")
    return row


def lock_adapter(conn: Connection, name: str) -> Row[Any]:
    """The adapter row, locked until commit: every change to one adapter is serialised on it."""
    row = conn.execute(select(adapters).where(adapters.c.name == name).with_for_update()).first()
    if row is None:
        raise NotFound(f"adapter {name!r} not found")
    return row


def policy_of(row: Row[Any]) -> PromotionPolicy:
    return PromotionPolicy(mode=row.promotion_mode, canary_weight=row.canary_weight,
                           canary_min_requests=row.canary_min_requests)


def _adapter_views(conn: Connection, rows: list[Row[Any]]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    alias_map: dict[int, dict[str, int]] = {i: {} for i in ids}
    latest: dict[int, int | None] = dict.fromkeys(ids)
    if ids:
        for a in conn.execute(select(aliases.c.adapter_id, aliases.c.alias, aliases.c.version)
                              .where(aliases.c.adapter_id.in_(ids))):
            alias_map[a.adapter_id][a.alias] = a.version
        for v in conn.execute(select(versions.c.adapter_id, func.max(versions.c.version).label("latest"))
                              .where(versions.c.adapter_id.in_(ids)).group_by(versions.c.adapter_id)):
            latest[v.adapter_id] = v.latest
    return [{
        "name": r.name, "base_model": r.base_model, "training_config": r.training_config,
        "promotion_policy": policy_of(r).model_dump(), "aliases": alias_map[r.id],
        "latest_version": latest[r.id], "created_by": r.created_by, "created_at": iso(r.created_at),
    } for r in rows]


def list_adapters(conn: Connection) -> list[dict[str, Any]]:
    return _adapter_views(conn, list(conn.execute(select(adapters).order_by(adapters.c.name))))


def get_adapter(conn: Connection, name: str) -> dict[str, Any]:
    return _adapter_views(conn, [find_adapter(conn, name)])[0]


def find_version(conn: Connection, adapter_id: int, number: int, *, adapter_name: str = "") -> Row[Any]:
    row = conn.execute(select(versions).where(versions.c.adapter_id == adapter_id,
                                              versions.c.version == number)).first()
    if row is None:
        raise NotFound(f"adapter {adapter_name!r} has no version {number}")
    return row


def artifact_uri(base_url: str, sha256: str) -> str:
    return f"{base_url}/v1/artifacts/{sha256}"
