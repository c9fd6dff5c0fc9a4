"""Dataset snapshots: canonical, content-addressed JSON lines with a fixed train/held-out split.

Each line is one example `{"answer", "example_id", "key", "prompt", "split"}`; lines are sorted
by `key` (a sha256 of prompt and answer), so the same examples always give the same bytes and
sha256. The split is decided by a hash of the prompt alone, so one prompt never lands in both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from adaptloop_contracts.ingest_api import ExportedExample

from adaptloop_trainer.errors import JobRejected

Split = Literal["train", "heldout"]
HELDOUT_PER_MILLE = 200

ExportRow: TypeAlias = ExportedExample | Mapping[str, Any]
"""What the public entry points take: ingest's export line, or the offline mapping form
(`prompt` with `target`, or with `answer`; optionally `example_id`)."""


@dataclass(frozen=True)
class Example:
    prompt: str
    answer: str
    key: str
    split: Split
    example_id: str = ""


@dataclass(frozen=True)
class Snapshot:
    examples: tuple[Example, ...]
    content: bytes
    sha256: str

    @property
    def snapshot_id(self) -> str:
        return f"snap-{self.sha256[:16]}"

    @property
    def train(self) -> list[Example]:
        return [e for e in self.examples if e.split == "train"]

    @property
    def heldout(self) -> list[Example]:
        return [e for e in self.examples if e.split == "heldout"]


def example_key(prompt: str, answer: str) -> str:
    return hashlib.sha256(f"{prompt}\x1f{answer}".encode()).hexdigest()


def split_of(prompt: str) -> Split:
    bucket = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:4], "big") % 1000
    return "heldout" if bucket < HELDOUT_PER_MILLE else "train"


def _line(example: Example) -> bytes:
    row = {"answer": example.answer, "example_id": example.example_id, "key": example.key,
           "prompt": example.prompt, "split": example.split}
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def seal_snapshot(examples: Iterable[Example]) -> Snapshot:
    """The canonical snapshot of examples whose split is already decided (each key once)."""
    ordered = tuple(sorted(examples, key=lambda e: e.key))
    content = b"".join(_line(e) for e in ordered)
    return Snapshot(ordered, content, hashlib.sha256(content).hexdigest())


def as_exported_example(row: ExportRow) -> ExportedExample:
    """An export line as is; a mapping as the export line it stands for.

    The mapping's answer is its `target` when it has that key, else its `answer`. Only `prompt`, the
    answer and `example_id` are carried over (all the plan and the snapshot read); a prompt or answer
    that is not a string becomes an empty one, so the row is skipped as any row without an answer.
    """
    if isinstance(row, ExportedExample):
        return row
    prompt = row.get("prompt")
    answer = row["target"] if "target" in row else row.get("answer")
    return ExportedExample(
        example_id=str(row.get("example_id") or ""), adapter="", adapter_version=None,
        prompt=prompt if isinstance(prompt, str) else "", completion=None, correction=None, score=None,
        target=answer if isinstance(answer, str) else None, event_id=None, occurred_at="", source="offline")


def exported_examples(rows: Iterable[ExportRow]) -> Iterator[ExportedExample]:
    """`rows` as export lines, read lazily (a streamed history stays streamed)."""
    for row in rows:
        yield as_exported_example(row)


def row_pair(row: ExportedExample) -> tuple[str, str] | None:
    """(prompt, answer) of a usable row (one with a `target`), else None."""
    if row.prompt and row.target:
        return row.prompt, row.target
    return None


def examples_by_key(rows: Iterable[ExportRow]) -> dict[str, Example]:
    """The usable rows (see `row_pair`) as examples split by prompt, by key: the first of equal ones kept."""
    by_key: dict[str, Example] = {}
    for row in exported_examples(rows):
        pair = row_pair(row)
        if pair is None:
            continue
        key = example_key(*pair)
        if key not in by_key:
            by_key[key] = Example(pair[0], pair[1], key, split_of(pair[0]), row.example_id)
    return by_key


def snapshot_from_export(rows: Iterable[ExportRow]) -> Snapshot:
    """Build a snapshot from ingest's export rows (or their offline mapping form, see `as_exported_example`):
    `target` is the answer; rows without one are skipped."""
    return seal_snapshot(examples_by_key(rows).values())


def parse_snapshot(content: bytes) -> Snapshot:
    """Read a stored snapshot back; its recorded split is kept as it was."""
    examples = []
    for number, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
            examples.append(Example(row["prompt"], row["answer"], row["key"], row["split"], row.get("example_id", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise JobRejected(f"snapshot line {number} unreadable: {exc}") from exc
    snapshot = seal_snapshot(examples)
    if snapshot.content != content:
        raise JobRejected("snapshot is not in canonical form")
    return snapshot


def require_enough(snapshot: Snapshot, *, min_examples: int) -> None:
    """Too little data is a rejected job, never a bad model."""
    if len(snapshot.examples) < min_examples:
        raise JobRejected(
            f"too little data: {len(snapshot.examples)} usable examples (with a target), need at least {min_examples}"
        )
    if not snapshot.train or not snapshot.heldout:
        raise JobRejected(
            f"too little data: split gave {len(snapshot.train)} train and {len(snapshot.heldout)} held-out examples"
        )
