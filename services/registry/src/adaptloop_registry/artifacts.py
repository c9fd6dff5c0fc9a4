"""Artifact uploads: hash while streaming, check size, hash, name and content, then store by hash."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from adaptloop_common.service_database import ServiceDatabase
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from adaptloop_registry.artifact_rules import check_content, kind_of_filename
from adaptloop_registry.caller import Caller, utc_now
from adaptloop_registry.catalog import artifact_uri
from adaptloop_registry.errors import Invalid, NotFound, TooLarge
from adaptloop_registry.infra.artifact_store import SHA256_HEX, ArtifactStore
from adaptloop_registry.infra.tables import artifacts
from adaptloop_registry.outbox import audit


async def upload_artifact(body: AsyncIterator[bytes], *, sha256: str, filename: str, store: ArtifactStore,
                          db: ServiceDatabase, caller: Caller, max_bytes: int,
                          base_url: str) -> tuple[dict[str, Any], bool]:
    """Store one artifact; returns (answer, created). Nothing is kept when any check fails."""
    if not SHA256_HEX.match(sha256):
        raise Invalid("the sha256 in the path must be 64 lower-case hex digits")
    kind = kind_of_filename(filename)
    staged = store.stage()
    try:
        digest = hashlib.sha256()
        async for chunk in body:
            if staged.size + len(chunk) > max_bytes:
                raise TooLarge(f"artifact larger than {max_bytes} bytes")
            digest.update(chunk)
            staged.write(chunk)
        staged.close()
        if staged.size == 0:
            raise Invalid("empty upload")
        actual = digest.hexdigest()
        if actual != sha256:
            raise Invalid(f"sha256 mismatch: the body hashes to {actual}, the path says {sha256}")
        await run_in_threadpool(check_content, kind, staged.path)
        size = staged.size
        await run_in_threadpool(store.publish, staged, sha256)
    except BaseException:
        staged.discard()
        raise
    answer = {"sha256": sha256, "size": size, "kind": kind, "uri": artifact_uri(base_url, sha256)}
    created = await run_in_threadpool(_record, db, sha256, size, kind, filename, caller)
    return answer, created


def _record(db: ServiceDatabase, sha256: str, size: int, kind: str, filename: str, caller: Caller) -> bool:
    with db.begin() as conn:
        existing = conn.execute(select(artifacts.c.kind).where(artifacts.c.sha256 == sha256)).first()
        if existing is not None:
            if existing.kind != kind:
                raise Invalid(f"artifact {sha256} is already stored as {existing.kind}, not {kind}")
            return False
        try:
            with conn.begin_nested():
                conn.execute(insert(artifacts).values(sha256=sha256, size=size, kind=kind, filename=filename,
                                                      uploaded_by=caller.actor, uploaded_at=utc_now()))
        except IntegrityError:
            return False  # the same bytes were recorded by a concurrent upload
        audit(conn, caller=caller, action="artifact.upload", target=sha256,
              details={"filename": filename, "kind": kind, "size": size})
        return True


def artifact_info(db: ServiceDatabase, sha256: str) -> dict[str, Any]:
    if not SHA256_HEX.match(sha256):
        raise NotFound("no such artifact")
    with db.read() as conn:
        row = conn.execute(select(artifacts).where(artifacts.c.sha256 == sha256)).first()
    if row is None:
        raise NotFound(f"artifact {sha256} not found")
    return {"sha256": row.sha256, "size": row.size, "kind": row.kind, "filename": row.filename}
