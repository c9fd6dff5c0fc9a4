import pytest
from adaptloop_contracts.ingest_api import ExportedExample
from adaptloop_trainer.errors import JobRejected
from adaptloop_trainer.snapshot import parse_snapshot, require_enough, snapshot_from_export
from trainer_fakes import exported_example


def _rows(n: int) -> list[ExportedExample]:
    return [exported_example(f"question {i}?", f"answer {i}.", example_id=str(i)) for i in range(n)]


def test_same_examples_in_any_order_give_the_same_bytes_and_sha() -> None:
    rows = _rows(30)
    a = snapshot_from_export(rows)
    b = snapshot_from_export(list(reversed(rows)))
    assert a.content == b.content and a.sha256 == b.sha256
    assert a.snapshot_id == f"snap-{a.sha256[:16]}"


def test_rows_without_target_are_skipped_and_duplicates_collapse() -> None:
    rows = [*_rows(5), exported_example("no target", None), _rows(1)[0]]
    snap = snapshot_from_export(rows)
    assert len(snap.examples) == 5
    assert all(e.answer.startswith("answer") for e in snap.examples)


def test_split_is_by_prompt_and_roughly_a_fifth_held_out() -> None:
    snap = snapshot_from_export(_rows(500))
    share = len(snap.heldout) / len(snap.examples)
    assert 0.12 < share < 0.28
    other = snapshot_from_export([exported_example(r.prompt, "different") for r in _rows(500)])
    assert [e.split for e in snap.examples if e.prompt == "question 7?"] == \
        [e.split for e in other.examples if e.prompt == "question 7?"]


def test_parse_round_trips_and_refuses_non_canonical_bytes() -> None:
    snap = snapshot_from_export(_rows(20))
    assert parse_snapshot(snap.content) == snap
    with pytest.raises(JobRejected):
        parse_snapshot(snap.content.replace(b'{"answer"', b'{ "answer"', 1))


def test_too_little_data_is_rejected_with_the_counts() -> None:
    with pytest.raises(JobRejected, match="too little data: 3 usable examples"):
        require_enough(snapshot_from_export(_rows(3)), min_examples=10)
