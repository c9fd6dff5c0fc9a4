"""Registering a version: the transaction that takes the next number, checks and writes in three statements,
in a thread through SQLAlchemy (`register_version`) or on the event loop through `infra.pg_async`
(`register_version_async`); gap-free numbering, and the same `request_id` answered with the first version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select, update

from adaptloop_registry.caller import Caller
from adaptloop_registry.catalog import find_adapter
from adaptloop_registry.errors import NotFound
from adaptloop_registry.infra.pg_async import AsyncPostgres, compiled
from adaptloop_registry.infra.tables import adapters, aliases
from adaptloop_registry.models import VersionSpec
from adaptloop_registry.registration_plan import plan_registration
from adaptloop_registry.registration_statements import CHECKS, TAKE_NUMBER, check_params, write_statement
from adaptloop_registry.version_reads import get_version


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
    plan = plan_registration(adapter, list(conn.execute(CHECKS, check_params(adapter_name, spec))), spec, caller,
                             base_url)
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
            taken, rows = await tx.begin((compiled(TAKE_NUMBER), {"adapter_name": adapter_name}),
                                         (compiled(CHECKS), check_params(adapter_name, spec)))
            if not taken:
                raise NotFound(f"adapter {adapter_name!r} not found")
            plan = plan_registration(taken[0], rows, spec, caller, base_url)
            if isinstance(plan, int):
                raise _Repeated(plan)
            [written] = await tx.commit((compiled(write_statement(plan.shape())), plan.params()))
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


def _take_number(conn: Connection, adapter_name: str) -> Row[Any]:
    """Lock the adapter's row until commit and take its next number (`next_version` - 1 in the row returned)."""
    row = conn.execute(TAKE_NUMBER, {"adapter_name": adapter_name}).first()
    if row is None:
        raise NotFound(f"adapter {adapter_name!r} not found")
    return row


def _registration_answer(conn: Connection, adapter: Row[Any], number: int, base_url: str, *,
                         moves: list[dict[str, Any]]) -> dict[str, Any]:
    answer = get_version(conn, adapter.name, number, base_url=base_url)
    answer["aliases"] = {r.alias: r.version for r in conn.execute(
        select(aliases.c.alias, aliases.c.version).where(aliases.c.adapter_id == adapter.id))}
    answer["moves"] = moves
    return answer
