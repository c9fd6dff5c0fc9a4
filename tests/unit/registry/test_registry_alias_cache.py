"""The alias cache's bookkeeping: a notification drops its entry, a fill that raced with a move is
not kept, an unknown payload or a lost listener empties everything, and nothing is kept while the
cache is not listening. (Visibility across workers on PostgreSQL: test_registry_alias_visibility.)"""

from __future__ import annotations

import psycopg
from adaptloop_registry.infra.alias_cache import AliasCache

KEY = ("adapter-1", "production")


def _listening_cache() -> AliasCache:
    cache = AliasCache("postgresql://unused", channel="s.aliases")
    cache._conn = object()  # type: ignore[assignment]  # stands for the listening connection
    return cache


def _notify(cache: AliasCache, payload: str) -> None:
    cache._on_notify(psycopg.Notify(channel="s.aliases", payload=payload, pid=1))


def test_a_filled_entry_is_served_until_its_notification() -> None:
    cache = _listening_cache()
    cache.put(KEY, cache.generation(KEY), b"v1")
    assert cache.get(KEY) == b"v1"
    _notify(cache, "adapter-2\nproduction")
    assert cache.get(KEY) == b"v1"
    _notify(cache, "adapter-1\nproduction")
    assert cache.get(KEY) is None


def test_a_fill_that_raced_with_a_move_is_not_kept() -> None:
    cache = _listening_cache()
    generation = cache.generation(KEY)  # taken before the database read
    _notify(cache, "adapter-1\nproduction")  # the move's notification arrives while the read runs
    cache.put(KEY, generation, b"stale")
    assert cache.get(KEY) is None
    cache.put(KEY, cache.generation(KEY), b"fresh")
    assert cache.get(KEY) == b"fresh"


def test_an_unknown_payload_empties_the_cache_and_voids_fills_under_way() -> None:
    cache = _listening_cache()
    other = ("adapter-2", "canary")
    cache.put(KEY, cache.generation(KEY), b"v1")
    generation = cache.generation(other)
    _notify(cache, "")
    assert cache.get(KEY) is None
    cache.put(other, generation, b"stale")
    assert cache.get(other) is None


def test_nothing_is_kept_while_not_listening() -> None:
    cache = AliasCache("postgresql://unused", channel="s.aliases")
    cache.put(KEY, cache.generation(KEY), b"v1")
    assert cache.get(KEY) is None and not cache.listening
