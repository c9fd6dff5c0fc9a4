"""The local stack's state on disk follows its database: a reset database resets drift checkpoints and caches."""

from __future__ import annotations

import uuid
from pathlib import Path

from adaptloop_devstack.postgres import drop_database, ensure_database
from adaptloop_devstack.stack import STATE_DIRS, Stack, StackConfig


def _fill(home: Path) -> None:
    for sub in STATE_DIRS:
        (home / sub).mkdir(parents=True, exist_ok=True)
        (home / sub / "checkpoint").write_text("from an earlier run")


def test_a_recreated_database_clears_the_state_kept_beside_it(tmp_path: Path) -> None:
    stack = Stack(StackConfig(home=tmp_path, database=f"adaptloop_state_{uuid.uuid4().hex[:8]}"))
    _fill(tmp_path)
    dsn = ensure_database(stack.config.database)
    try:
        assert sorted(stack.reset_state_if_database_reset(existed_before=False)) == sorted(STATE_DIRS)
        _fill(tmp_path)
        assert stack.reset_state_if_database_reset(existed_before=True) == []  # the same database: kept
        assert (tmp_path / "drift" / "checkpoint").exists()
        drop_database(dsn)
        dsn = ensure_database(stack.config.database)
        assert sorted(stack.reset_state_if_database_reset(existed_before=True)) == sorted(STATE_DIRS)
        assert not (tmp_path / "drift").exists() and not (tmp_path / "inference").exists()
    finally:
        drop_database(dsn)


def test_state_from_before_the_marker_is_kept_when_the_database_exists(tmp_path: Path) -> None:
    stack = Stack(StackConfig(home=tmp_path, database=f"adaptloop_state_{uuid.uuid4().hex[:8]}"))
    dsn = ensure_database(stack.config.database)
    try:
        _fill(tmp_path)
        assert stack.reset_state_if_database_reset(existed_before=True) == []
        assert (tmp_path / "registry" / "checkpoint").exists()
    finally:
        drop_database(dsn)
