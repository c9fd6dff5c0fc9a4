"""The SQL of a version registration, built once: the lock that takes the number, the checks query and the
writes (one statement of data-modifying CTEs on PostgreSQL, one per table elsewhere), per shape.

Module-level objects, so that `infra.pg_async.compiled` compiles each once; only the parameters change.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)

from adaptloop_registry.infra.tables import (
    adapters,
    alias_history,
    aliases,
    artifacts,
    audit_log,
    base_models,
    evaluations,
    outbox,
    versions,
)
from adaptloop_registry.models import VersionSpec

# The adapter's row locked until commit and its next number taken (`next_version` - 1 in the row returned).
TAKE_NUMBER = (update(adapters).where(adapters.c.name == bindparam("adapter_name", type_=String))
               .values(next_version=adapters.c.next_version + 1).returning(*adapters.c))


def _checks_statement() -> Select[Any]:
    """One row per alias of the adapter named `adapter_name` (one with null alias columns when it has none),
    each carrying the version already registered under `request_id`, the base model (`base_model`, null for
    the adapter's), both artifacts and the parent (a null `request_id` or `parent_version` matches nothing).
    By name, not id, so that it can be sent with the lock before the lock's answer is back. Built once: only
    the parameters change."""
    existing, parent = versions.alias("existing"), versions.alias("parent")
    weights, config, model = artifacts.alias("weights"), artifacts.alias("config"), base_models.alias("model")
    joined = (
        adapters
        .outerjoin(existing, and_(existing.c.adapter_id == adapters.c.id,
                                  existing.c.request_id == bindparam("request_id", type_=String)))
        .outerjoin(model, model.c.name == func.coalesce(bindparam("base_model", type_=String), adapters.c.base_model))
        .outerjoin(weights, weights.c.sha256 == bindparam("weights_sha256", type_=String))
        .outerjoin(config, config.c.sha256 == bindparam("config_sha256", type_=String))
        .outerjoin(parent, and_(parent.c.adapter_id == adapters.c.id,
                                parent.c.version == bindparam("parent_version", type_=Integer)))
        .outerjoin(aliases, aliases.c.adapter_id == adapters.c.id)
    )
    return select(
        existing.c.version.label("existing_version"), existing.c.weights_sha256.label("existing_weights"),
        existing.c.config_sha256.label("existing_config"), model.c.id.label("base_model_id"),
        weights.c.kind.label("weights_kind"), weights.c.size.label("weights_size"),
        config.c.kind.label("config_kind"), parent.c.id.label("parent_id"),
        aliases.c.alias, aliases.c.version.label("alias_version"), aliases.c.weight.label("alias_weight"),
    ).select_from(joined).where(adapters.c.name == bindparam("adapter_name", type_=String))


CHECKS = _checks_statement()


def check_params(adapter_name: str, spec: VersionSpec) -> dict[str, Any]:
    """The parameters of `CHECKS` for a registration of `spec`."""
    return {"adapter_name": adapter_name, "request_id": spec.request_id, "base_model": spec.base_model,
            "weights_sha256": spec.weights_sha256, "config_sha256": spec.config_sha256,
            "parent_version": spec.parent_version}


class WriteShape(NamedTuple):
    """What a registration writes besides its version, outbox and audit rows; one statement per shape."""

    evaluation: bool
    events: int
    audits: int
    alias_exists: bool | None  # None: no alias moves
    demote: bool


def _values(table: Table, prefix: str, columns: list[str]) -> dict[str, Any]:
    return {c: bindparam(f"{prefix}{c}", type_=table.c[c].type) for c in columns}


_VERSION_COLUMNS = ["adapter_id", "version", "request_id", "weights_sha256", "weights_size", "config_sha256",
                    "base_model", "dataset_snapshot_id", "dataset_sha256", "training_config", "seed",
                    "code_revision", "parent_version", "metrics", "status", "registered_by", "registered_at"]
_EVALUATION_COLUMNS = ["passed", "metrics", "verdict", "recorded_by", "recorded_at"]
_OUTBOX_COLUMNS = ["event_id", "topic", "event_key", "payload", "traceparent", "tracestate", "created_at"]
_AUDIT_COLUMNS = ["actor", "action", "target", "details", "at"]
_ALIAS_COLUMNS = ["adapter_id", "alias", "version", "weight", "updated_by", "updated_at"]
_HISTORY_COLUMNS = ["adapter_id", "alias", "from_version", "to_version", "weight", "actor", "reason", "event_id",
                    "moved_at", "details"]


@functools.cache
def write_statements(shape: WriteShape) -> list[Any]:
    """The registration's writes in order, the version's insert first (returning its id); the evaluation reads
    the id from the `version_id` parameter."""
    out: list[Any] = [insert(versions).values(_values(versions, "v_", _VERSION_COLUMNS)).returning(versions.c.id)]
    if shape.evaluation:
        out.append(insert(evaluations).values(version_id=bindparam("version_id", type_=Integer),
                                              **_values(evaluations, "e_", _EVALUATION_COLUMNS)))
    out += _side_statements(shape)
    return out


def _insert_rows(table: Table, prefix: str, columns: list[str], count: int) -> Any:
    """Insert `count` rows, in order (ids follow it), from the parameters `<prefix><i>_<column>`.

    Several rows go through `INSERT ... SELECT ... UNION ALL ... ORDER BY`: SQLAlchemy caches no multi-row
    `VALUES`, and compiling a statement anew costs more than sending it."""
    if count == 1:
        return insert(table).values(_values(table, f"{prefix}0_", columns))
    rows = union_all(*(select(literal(i).label("row_order"),
                              *(v.label(c) for c, v in _values(table, f"{prefix}{i}_", columns).items()))
                       for i in range(count))).subquery("rows")
    return insert(table).from_select(columns, select(*(rows.c[c] for c in columns)).order_by(rows.c.row_order))


def _side_statements(shape: WriteShape) -> list[Any]:
    out: list[Any] = [_insert_rows(outbox, "o", _OUTBOX_COLUMNS, shape.events),
                      _insert_rows(audit_log, "a", _AUDIT_COLUMNS, shape.audits)]
    if shape.alias_exists is not None:
        alias = _values(aliases, "l_", _ALIAS_COLUMNS)
        if shape.alias_exists:
            out.append(update(aliases).where(aliases.c.adapter_id == alias.pop("adapter_id"),
                                             aliases.c.alias == alias.pop("alias")).values(alias))
        else:
            out.append(insert(aliases).values(alias))
        out.append(insert(alias_history).values(_values(alias_history, "h_", _HISTORY_COLUMNS)))
    if shape.demote:
        out.append(update(versions).where(
            versions.c.adapter_id == bindparam("d_adapter_id", type_=Integer),
            versions.c.version == bindparam("d_version", type_=Integer),
            versions.c.status == "production").values(status="candidate"))
    return out


@functools.cache
def write_statement(shape: WriteShape) -> Any:
    """PostgreSQL: every write of a registration as data-modifying CTEs of one statement returning the id."""
    written = (insert(versions).values(_values(versions, "v_", _VERSION_COLUMNS)).returning(versions.c.id)
               .cte("written"))
    ctes = [statement.cte(f"w{i}") for i, statement in enumerate(_side_statements(shape))]
    if shape.evaluation:
        values = _values(evaluations, "e_", _EVALUATION_COLUMNS)
        ctes.append(insert(evaluations).from_select(["version_id", *values], select(written.c.id, *values.values()))
                    .cte("evaluation"))
    return select(written.c.id).add_cte(*ctes)
