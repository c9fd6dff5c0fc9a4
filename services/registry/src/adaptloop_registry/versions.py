"""Adapter versions: gap-free numbering, idempotent registration, lineage, retirement, load failures."""

from __future__ import annotations

import functools
from datetime import datetime
from types import SimpleNamespace
from typing import Any, NamedTuple

from adaptloop_contracts import RegistryEvent
from sqlalchemy import (
    Connection,
    Integer,
    Row,
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

from adaptloop_registry.aliases import CANARY, PRODUCTION
from adaptloop_registry.caller import Caller, iso, utc_now
from adaptloop_registry.catalog import artifact_uri, find_adapter, find_version, lock_adapter, policy_of
from adaptloop_registry.erasure import flags_of
from adaptloop_registry.errors import Conflict, Invalid, NotFound
from adaptloop_registry.infra.pg_async import AsyncPostgres, compiled
from adaptloop_registry.infra.tables import (
    adapters,
    alias_history,
    aliases,
    artifacts,
    audit_log,
    base_models,
    evaluations,
    load_failures,
    outbox,
    versions,
)
from adaptloop_registry.models import LoadFailure, VersionSpec
from adaptloop_registry.outbox import audit, audit_row, enqueue, outbox_row
from adaptloop_registry.version_status import PENDING_APPROVAL


def register_version(conn: Connection, adapter_name: str, spec: VersionSpec, *, caller: Caller,
                     base_url: str) -> tuple[dict[str, Any], bool]:
    """Register the next version; returns (answer, created). The same `request_id` returns the first answer.

    Three statements on PostgreSQL (see docs/registry.md, Throughput): the adapter row is locked by taking
    its number (`UPDATE ... RETURNING`), every check and the current aliases are read in one query sent after
    the lock (so it sees every registration and move committed before it), and every row the registration
    writes (version, evaluation, outbox, audit, and the promotion's alias, history and status changes) goes in
    one statement of data-modifying CTEs. The answer is built from what was written. A refusal raises, which
    rolls the transaction back, so no number is consumed. `register_version_async` sends the same statements
    from the event loop.
    """
    adapter = _take_number(conn, adapter_name)
    plan = _plan(adapter, list(conn.execute(_CHECKS, _check_params(adapter_name, spec))), spec, caller, base_url)
    if isinstance(plan, int):
        conn.execute(update(adapters).where(adapters.c.id == adapter.id).values(next_version=adapter.next_version - 1))
        return _registration_answer(conn, adapter, plan, base_url, moves=[]), False
    return plan.answer(plan.write(conn)), True


async def register_version_async(db: AsyncPostgres, adapter_name: str, spec: VersionSpec, *, caller: Caller,
                                 base_url: str) -> dict[str, Any] | int:
    """`register_version` on PostgreSQL from the event loop, the same three statements: `BEGIN`, the lock,
    the checks (by the adapter's name, after the lock is granted), the write, `COMMIT`. Returns the answer
    of the new version, or the number of the version already registered under `spec.request_id` with the
    same artifacts, whose answer the caller reads (the transaction is rolled back: no number is consumed)."""
    try:
        async with db.transaction() as tx:
            taken, rows = await tx.begin((compiled(_TAKE_NUMBER), {"adapter_name": adapter_name}),
                                         (compiled(_CHECKS), _check_params(adapter_name, spec)))
            if not taken:
                raise NotFound(f"adapter {adapter_name!r} not found")
            plan = _plan(taken[0], rows, spec, caller, base_url)
            if isinstance(plan, int):
                raise _Repeated(plan)
            [written] = await tx.commit((compiled(_write_statement(plan.shape())), plan.params()))
    except _Repeated as repeated:
        return repeated.version
    return plan.answer(int(written[0][0]))


class _Repeated(Exception):
    """Leaves the transaction (rolled back) with the number of the version registered under the request_id."""

    def __init__(self, version: int) -> None:
        self.version = version


def repeated_answer(conn: Connection, adapter_name: str, number: int, *, base_url: str) -> dict[str, Any]:
    """The answer to a repeated registration: the version registered first, the adapter's aliases now."""
    return _registration_answer(conn, find_adapter(conn, adapter_name), number, base_url, moves=[])


def _check_params(adapter_name: str, spec: VersionSpec) -> dict[str, Any]:
    return {"adapter_name": adapter_name, "request_id": spec.request_id, "base_model": spec.base_model,
            "weights_sha256": spec.weights_sha256, "config_sha256": spec.config_sha256,
            "parent_version": spec.parent_version}


def _plan(adapter: Any, rows: list[Any], spec: VersionSpec, caller: Caller, base_url: str) -> _Registration | int:
    """Every check decided from the rows of `_CHECKS`; the registration to write, or the number of the version
    already registered under the request_id (raises `Conflict` when that one has other artifacts)."""
    number = adapter.next_version - 1
    base_model = spec.base_model or adapter.base_model
    first = rows[0]
    if first.existing_version is not None:
        if (first.existing_weights, first.existing_config) != (spec.weights_sha256, spec.config_sha256):
            raise Conflict(f"request_id {spec.request_id!r} was already used for version {first.existing_version} "
                           "with other artifacts")
        return int(first.existing_version)
    if first.base_model_id is None:
        raise Invalid(f"base model {base_model!r} is not registered")
    _require_kind(spec.weights_sha256, first.weights_kind, "weights")
    _require_kind(spec.config_sha256, first.config_kind, "config")
    if spec.parent_version is not None and first.parent_id is None:
        raise NotFound(f"adapter {adapter.name!r} has no version {spec.parent_version}")
    plan = _Registration(adapter, number, spec, base_model, int(first.weights_size), caller, base_url, utc_now())
    plan.promote({r.alias: (r.alias_version, r.alias_weight) for r in rows if r.alias is not None})
    return plan


def _take_number(conn: Connection, adapter_name: str) -> Row[Any]:
    """Lock the adapter's row until commit and take its next number (`next_version` - 1 in the row returned)."""
    row = conn.execute(_TAKE_NUMBER, {"adapter_name": adapter_name}).first()
    if row is None:
        raise NotFound(f"adapter {adapter_name!r} not found")
    return row


_TAKE_NUMBER = (update(adapters).where(adapters.c.name == bindparam("adapter_name", type_=String))
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


_CHECKS = _checks_statement()


def _require_kind(sha256: str, kind: str | None, expected: str) -> None:
    if kind is None:
        raise Invalid(f"artifact {sha256} has not been uploaded")
    if kind != expected:
        raise Invalid(f"artifact {sha256} is {kind}, expected {expected}")


class _Registration:
    """Every row one registration writes, its promotion included, and the moves it answers with."""

    def __init__(self, adapter: Row[Any], number: int, spec: VersionSpec, base_model: str, weights_size: int,
                 caller: Caller, base_url: str, now: datetime) -> None:
        self.adapter, self.number, self.spec, self.caller, self.now = adapter, number, spec, caller, now
        self.base_url = base_url
        passed = spec.evaluation.passed if spec.evaluation is not None else None
        self.uri = artifact_uri(base_url, spec.weights_sha256)
        self.version = {
            "adapter_id": adapter.id, "version": number, "request_id": spec.request_id,
            "weights_sha256": spec.weights_sha256, "weights_size": weights_size, "config_sha256": spec.config_sha256,
            "base_model": base_model, "dataset_snapshot_id": spec.dataset_snapshot_id,
            "dataset_sha256": spec.dataset_sha256, "training_config": spec.training_config, "seed": spec.seed,
            "code_revision": spec.code_revision, "parent_version": spec.parent_version, "metrics": spec.metrics,
            "status": "rejected" if passed is False else "candidate", "registered_by": caller.actor,
            "registered_at": now,
        }
        self.events: list[dict[str, Any]] = []
        self.audits: list[dict[str, Any]] = []
        self.alias: dict[str, Any] | None = None
        self.alias_exists = False
        self.history: dict[str, Any] | None = None
        self.demote: int | None = None
        self.moves: list[dict[str, Any]] = []
        self.aliases: dict[str, tuple[int, float | None]] = {}
        self._event(RegistryEvent(
            event_type="adapter.version_registered", model=adapter.name, version=number, base_model=base_model,
            artifact_uri=self.uri, sha256=spec.weights_sha256, actor=caller.actor,
            details={"config_sha256": spec.config_sha256, "evaluation_passed": passed, "request_id": spec.request_id},
        ))
        self._audit("version.register", f"{adapter.name}@{number}",
                    {"request_id": spec.request_id, "weights_sha256": spec.weights_sha256, "reason": spec.reason})

    def _event(self, event: RegistryEvent) -> str:
        self.events.append(outbox_row(event, caller=self.caller, at=self.now))
        return str(event.event_id)

    def _audit(self, action: str, target: str, details: dict[str, Any]) -> None:
        self.audits.append(audit_row(caller=self.caller, action=action, target=target, details=details, at=self.now))

    def promote(self, current: dict[str, tuple[int, float | None]]) -> None:
        """The promotion policy's effect: `auto` makes a passing version production, `canary` the canary (both
        moves recorded as `aliases.move_alias` records them), `approval` has it wait as `pending_approval`
        (announced as `adapter.approval_requested`), `manual` moves nothing. `current` (alias -> (version,
        weight)) becomes the aliases after it."""
        adapter, number, spec = self.adapter, self.number, self.spec
        self.aliases = current
        policy = policy_of(adapter)
        if spec.evaluation is None or not spec.evaluation.passed or policy.mode == "manual":
            return
        if policy.mode == "approval":
            production = current.get(PRODUCTION)
            production_version = production[0] if production is not None else None
            self.version["status"] = PENDING_APPROVAL
            self._event(RegistryEvent(
                event_type="adapter.approval_requested", model=adapter.name, version=number,
                base_model=self.version["base_model"], artifact_uri=self.uri, sha256=spec.weights_sha256,
                actor=self.caller.actor, reason="evaluation passed; promotion waits for an admin's approval",
                details={"config_sha256": spec.config_sha256, "production_version": production_version},
            ))
            self._audit("version.approval_requested", f"{adapter.name}@{number}",
                        {"production_version": production_version})
            return
        alias, weight = (PRODUCTION, None) if policy.mode == "auto" else (CANARY, policy.canary_weight)
        before = current.get(alias)
        previous = before[0] if before is not None else None
        reason = f"{policy.mode} promotion: evaluation passed"
        self.alias = {"adapter_id": adapter.id, "alias": alias, "version": number, "weight": weight,
                      "updated_by": self.caller.actor, "updated_at": self.now}
        self.alias_exists = before is not None
        if alias == PRODUCTION:
            self.version["status"] = "production"
            if previous is not None and previous != number:
                self.demote = previous
        event_id = self._event(RegistryEvent(
            event_type="adapter.alias_moved", model=adapter.name, alias=alias, version=number,
            previous_version=previous, base_model=self.version["base_model"], artifact_uri=self.uri,
            sha256=spec.weights_sha256, actor=self.caller.actor, reason=reason[:1024], weight=weight,
            details={"config_sha256": spec.config_sha256},
        ))
        self.history = {"adapter_id": adapter.id, "alias": alias, "from_version": previous, "to_version": number,
                        "weight": weight, "actor": self.caller.actor, "reason": reason, "event_id": event_id,
                        "moved_at": self.now, "details": {}}
        self._audit("alias.move", f"{adapter.name}:{alias}",
                    {"from": previous, "to": number, "weight": weight, "reason": reason})
        self.moves = [{"adapter": adapter.name, "alias": alias, "version": number, "previous_version": previous,
                       "weight": weight, "event_id": event_id, "moved_at": iso(self.now),
                       "moved_by": self.caller.actor}]
        current[alias] = (number, weight)

    def _evaluation_values(self) -> dict[str, Any]:
        assert self.spec.evaluation is not None
        return {**self.spec.evaluation.model_dump(), "recorded_by": self.caller.actor, "recorded_at": self.now}

    def shape(self) -> _Shape:
        return _Shape(self.spec.evaluation is not None, len(self.events), len(self.audits),
                      None if self.alias is None else self.alias_exists, self.demote is not None)

    def params(self) -> dict[str, Any]:
        """The write statement's parameters (see `_write_statement`)."""
        params: dict[str, Any] = {f"v_{k}": v for k, v in self.version.items()}
        if self.spec.evaluation is not None:
            params |= {f"e_{k}": v for k, v in self._evaluation_values().items()}
        for i, row in enumerate(self.events):
            params |= {f"o{i}_{k}": v for k, v in row.items()}
        for i, row in enumerate(self.audits):
            params |= {f"a{i}_{k}": v for k, v in row.items()}
        if self.alias is not None and self.history is not None:
            params |= {f"l_{k}": v for k, v in self.alias.items()} | {f"h_{k}": v for k, v in self.history.items()}
        if self.demote is not None:
            params |= {"d_adapter_id": self.adapter.id, "d_version": self.demote}
        return params

    def write(self, conn: Connection) -> int:
        """Write every row; one statement on PostgreSQL, one per table on SQLite. Returns the version's id."""
        shape, params = self.shape(), self.params()
        if conn.dialect.name == "postgresql":
            return int(conn.execute(_write_statement(shape), params).scalar_one())
        statements = _write_statements(shape)
        version_id = int(conn.execute(statements[0], params).scalar_one())
        for statement in statements[1:]:
            conn.execute(statement, params | {"version_id": version_id})
        return version_id

    def answer(self, version_id: int) -> dict[str, Any]:
        """The answer, built from what was written: a new version has no serving counts, failures or erasures."""
        answer = version_view(self.adapter.name, self.version_row(version_id), self.evaluation_row(), 0, [],
                              self.base_url)
        answer["aliases"] = {alias: version for alias, (version, _) in self.aliases.items()}
        answer["moves"] = self.moves
        return answer

    def version_row(self, version_id: int) -> SimpleNamespace:
        return SimpleNamespace(id=version_id, served_requests=0, served_tokens=0, retired_by=None, retired_at=None,
                               **{k: v for k, v in self.version.items() if k != "adapter_id"})

    def evaluation_row(self) -> SimpleNamespace | None:
        return None if self.spec.evaluation is None else SimpleNamespace(**self._evaluation_values())


class _Shape(NamedTuple):
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
def _write_statements(shape: _Shape) -> list[Any]:
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


def _side_statements(shape: _Shape) -> list[Any]:
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
def _write_statement(shape: _Shape) -> Any:
    """PostgreSQL: every write of a registration as data-modifying CTEs of one statement returning the id."""
    written = (insert(versions).values(_values(versions, "v_", _VERSION_COLUMNS)).returning(versions.c.id)
               .cte("written"))
    ctes = [statement.cte(f"w{i}") for i, statement in enumerate(_side_statements(shape))]
    if shape.evaluation:
        values = _values(evaluations, "e_", _EVALUATION_COLUMNS)
        ctes.append(insert(evaluations).from_select(["version_id", *values], select(written.c.id, *values.values()))
                    .cte("evaluation"))
    return select(written.c.id).add_cte(*ctes)


def _registration_answer(conn: Connection, adapter: Row[Any], number: int, base_url: str, *,
                         moves: list[dict[str, Any]]) -> dict[str, Any]:
    answer = get_version(conn, adapter.name, number, base_url=base_url)
    answer["aliases"] = {r.alias: r.version for r in conn.execute(
        select(aliases.c.alias, aliases.c.version).where(aliases.c.adapter_id == adapter.id))}
    answer["moves"] = moves
    return answer


def version_views(conn: Connection, adapter_name: str, rows: list[Row[Any]], base_url: str) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    latest_eval: dict[int, Row[Any]] = {}
    failures: dict[int, int] = {}
    if ids:
        for e in conn.execute(select(evaluations).where(evaluations.c.version_id.in_(ids)).order_by(evaluations.c.id)):
            latest_eval[e.version_id] = e
        failures = {f.version_id: f.n for f in conn.execute(
            select(load_failures.c.version_id, func.count().label("n"))
            .where(load_failures.c.version_id.in_(ids)).group_by(load_failures.c.version_id))}
    flags = flags_of(conn, ids)
    return [version_view(adapter_name, r, latest_eval.get(r.id), failures.get(r.id, 0), flags.get(r.id, []), base_url)
            for r in rows]


def version_view(adapter_name: str, r: Any, ev: Any, load_failure_count: int, erasures: list[dict[str, Any]],
                 base_url: str) -> dict[str, Any]:
    """One version as answered: `r` has the `adapter_versions` columns, `ev` the latest evaluation's (or None)."""
    return {
        "adapter": adapter_name, "version": r.version, "status": r.status,
        "weights_sha256": r.weights_sha256, "weights_size": r.weights_size, "config_sha256": r.config_sha256,
        "sha256": r.weights_sha256,
        "artifact_uri": artifact_uri(base_url, r.weights_sha256),
        "config_uri": artifact_uri(base_url, r.config_sha256),
        "base_model": r.base_model, "dataset_snapshot_id": r.dataset_snapshot_id,
        "dataset_sha256": r.dataset_sha256, "training_config": r.training_config, "seed": r.seed,
        "code_revision": r.code_revision, "parent_version": r.parent_version, "metrics": r.metrics,
        "evaluation": None if ev is None else {"passed": ev.passed, "metrics": ev.metrics, "verdict": ev.verdict,
                                               "recorded_by": ev.recorded_by, "recorded_at": iso(ev.recorded_at)},
        "lineage": {"base_model": r.base_model, "parent_version": r.parent_version,
                    "dataset_snapshot_id": r.dataset_snapshot_id, "dataset_sha256": r.dataset_sha256,
                    "code_revision": r.code_revision, "seed": r.seed},
        "suites": suite_results(None if ev is None else ev.metrics),
        "served_requests": r.served_requests, "served_tokens": r.served_tokens,
        "load_failures": load_failure_count,
        "request_id": r.request_id, "registered_by": r.registered_by, "registered_at": iso(r.registered_at),
        "retired_by": r.retired_by, "retired_at": iso(r.retired_at),
        "erasure_pending": bool(erasures) and r.status != "retired", "erasures": erasures,
    }


def suite_results(metrics: Any) -> list[dict[str, Any]]:
    """The gate's per-suite results recorded in an evaluation's metrics (`metrics.suites`), by suite name."""
    suites = metrics.get("suites") if isinstance(metrics, dict) else None
    return [dict(v) for _, v in sorted(suites.items())] if isinstance(suites, dict) else []


def list_versions(conn: Connection, adapter_name: str, *, base_url: str,
                  status: str | None = None) -> list[dict[str, Any]]:
    adapter = find_adapter(conn, adapter_name)
    query = select(versions).where(versions.c.adapter_id == adapter.id)
    if status is not None:
        query = query.where(versions.c.status == status)
    rows = list(conn.execute(query.order_by(versions.c.version)))
    return version_views(conn, adapter_name, rows, base_url)


def get_version(conn: Connection, adapter_name: str, number: int, *, base_url: str) -> dict[str, Any]:
    adapter = find_adapter(conn, adapter_name)
    return version_views(conn, adapter_name, [find_version(conn, adapter.id, number, adapter_name=adapter_name)],
                          base_url)[0]


def retire_version(conn: Connection, adapter_name: str, number: int, *, reason: str, caller: Caller,
                   base_url: str) -> dict[str, Any]:
    """Retire a version no alias points at; retiring twice answers the same."""
    adapter = lock_adapter(conn, adapter_name)
    row = find_version(conn, adapter.id, number, adapter_name=adapter_name)
    if row.status != "retired":
        pointing = [a.alias for a in conn.execute(select(aliases.c.alias).where(
            aliases.c.adapter_id == adapter.id, aliases.c.version == number))]
        if pointing:
            raise Conflict(f"version {number} of {adapter_name!r} is the target of alias(es) {', '.join(pointing)}")
        conn.execute(update(versions).where(versions.c.id == row.id)
                     .values(status="retired", retired_by=caller.actor, retired_at=utc_now()))
        enqueue(conn, RegistryEvent(
            event_type="adapter.version_retired", model=adapter_name, version=number, base_model=row.base_model,
            sha256=row.weights_sha256, actor=caller.actor, reason=reason[:1024],
            details={"config_sha256": row.config_sha256},
        ), caller=caller)
        audit(conn, caller=caller, action="version.retire", target=f"{adapter_name}@{number}",
              details={"reason": reason})
    return get_version(conn, adapter_name, number, base_url=base_url)


def record_load_failure(conn: Connection, adapter_name: str, number: int, report: LoadFailure, *,
                        caller: Caller) -> dict[str, Any]:
    """An inference replica could not load this version: kept for operators and announced."""
    adapter = find_adapter(conn, adapter_name)
    row = find_version(conn, adapter.id, number, adapter_name=adapter_name)
    conn.execute(insert(load_failures).values(version_id=row.id, replica=report.replica, reason=report.reason,
                                              reported_by=caller.actor, reported_at=utc_now()))
    enqueue(conn, RegistryEvent(
        event_type="adapter.load_failed", model=adapter_name, version=number, base_model=row.base_model,
        sha256=row.weights_sha256, actor=caller.actor, reason=report.reason[:1024],
        details={"replica": report.replica, "config_sha256": row.config_sha256},
    ), caller=caller)
    audit(conn, caller=caller, action="version.load_failed", target=f"{adapter_name}@{number}",
          details=report.model_dump())
    return {"adapter": adapter_name, "version": number, "recorded": True}
