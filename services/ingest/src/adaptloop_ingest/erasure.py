"""Erasure of a subject's data along its lineage.

A subject is a tenant (the `tenant` of the logs) or an explicit list of event ids (logs or
ratings). An erasure (1) finds the subject's examples and pending ratings, (2) asks the trainer
which dataset snapshots held them (it also forgets pinned regression examples with that content),
(3) asks the registry to flag the versions trained on those snapshots `erasure_pending`, and only
then (4) deletes the examples and ratings, keeping tombstones of their event ids so a replay of
the topics does not bring them back. The erasure itself is recorded (subject as a sha256 only).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from adaptloop_contracts.ingest_api import ErasureRequest

from adaptloop_ingest.examples import target_of
from adaptloop_ingest.ports import ErasureStore, Lineage


def snapshot_key(prompt: str, completion: str | None, correction: str | None, score: float | None) -> str | None:
    """The trainer's key of this example in a snapshot (sha256 of prompt and answer), when it has an answer."""
    target = target_of(completion, correction, score)
    return None if target is None else hashlib.sha256(f"{prompt}\x1f{target}".encode()).hexdigest()


@dataclass
class ErasureMatch:
    """What the subject has in the store right now."""

    example_ids: list[uuid.UUID] = field(default_factory=list)
    adapters: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    pending_feedback: list[uuid.UUID] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.example_ids and not self.pending_feedback


class UnknownSubject(LookupError):
    pass


def erase_subject(request: ErasureRequest, *, actor: str, token: str, adapters: frozenset[str] | None,
                  store: ErasureStore, lineage: Lineage) -> dict[str, Any]:
    """Run one erasure (see the module's doc); raises UnknownSubject when the store never held the subject."""
    match = store.match(request, adapters=adapters)
    base = {"erasure_id": str(request.erasure_id),
            "subject": {"kind": request.subject_kind, "sha256": request.subject_sha256}}
    if match.empty:
        earlier = store.previous(request.subject_sha256)
        if not earlier:
            raise UnknownSubject(f"no examples or pending feedback for this {request.subject_kind}"
                                 + (" within the token's adapters" if adapters is not None else ""))
        return {**base, "examples_removed": 0, "pending_feedback_removed": 0, "snapshots": [], "versions": [],
                "already_erased": earlier}
    traced: dict[str, Any] = {"snapshots": [], "unreadable_snapshots": [], "regression_examples_removed": 0}
    if match.adapters:
        traced = lineage.snapshots({
            "erasure_id": str(request.erasure_id), "adapters": sorted(match.adapters),
            "example_ids": [str(i) for i in match.example_ids], "keys": sorted(match.keys)}, token=token)
    flagged: dict[str, Any] = {"versions": []}
    if traced["snapshots"]:
        flagged = lineage.flag_versions({
            "erasure_id": str(request.erasure_id), "reason": f"erasure: {request.reason}"[:1000],
            "snapshots": [{"adapter": s["adapter"], "sha256": s["sha256"]} for s in traced["snapshots"]]},
            token=token)
    answer = {**base, "adapters": sorted(match.adapters), "snapshots": traced["snapshots"],
              "unreadable_snapshots": traced.get("unreadable_snapshots", []),
              "regression_examples_removed": traced.get("regression_examples_removed", 0),
              "versions": flagged["versions"]}
    examples_removed, feedback_removed = store.erase(request, match, answer=answer, actor=actor)
    return {**answer, "examples_removed": examples_removed, "pending_feedback_removed": feedback_removed}
