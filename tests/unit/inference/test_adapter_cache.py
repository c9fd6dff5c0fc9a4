"""The adapter cache uses an entry on disk only when it lies inside the cache directory."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from adaptloop_inference.adapter_cache import AdapterCache
from adaptloop_inference.adapter_files import CONFIG_FILE, WEIGHTS_FILE, AdapterLimits
from adaptloop_inference.errors import AdapterRejected
from adaptloop_inference.plan import VersionRef
from inference_fakes import FakeRegistry

LIMITS = AdapterLimits(max_rank=16, supported_modules=frozenset({"q_proj", "v_proj"}))
REF = VersionRef("support", 3)


@pytest.fixture
def registry(tmp_path: Path) -> FakeRegistry:
    return FakeRegistry(tmp_path / "registry")


@pytest.fixture
def cache(tmp_path: Path, registry: FakeRegistry) -> AdapterCache:
    return AdapterCache(tmp_path / "cache", registry=registry, limits=LIMITS)


def _outside_copy(registry: FakeRegistry, tmp_path: Path) -> Path:
    """A verified copy of the adapter's files outside the cache (hashes match: only the place is wrong)."""
    outside = tmp_path / "elsewhere"
    shutil.copytree(registry.root / "support-3", outside)
    return outside


@pytest.mark.parametrize("link", ["entry", "adapter_folder", "weights_file"])
async def test_an_entry_leading_outside_the_cache_is_refused_and_downloaded_again(
        link: str, cache: AdapterCache, registry: FakeRegistry, tmp_path: Path) -> None:
    artifacts = registry.publish("support", 3)
    outside = _outside_copy(registry, tmp_path)
    final = cache.path_for(REF, artifacts)
    final.parent.mkdir(parents=True)
    if link == "entry":
        final.symlink_to(outside, target_is_directory=True)
    elif link == "adapter_folder":
        final.parent.rmdir()
        (tmp_path / "elsewhere-folder").mkdir()
        shutil.copytree(outside, tmp_path / "elsewhere-folder" / final.name)
        final.parent.symlink_to(tmp_path / "elsewhere-folder", target_is_directory=True)
    else:
        final.mkdir()
        shutil.copy(outside / CONFIG_FILE, final / CONFIG_FILE)
        (final / WEIGHTS_FILE).symlink_to(outside / WEIGHTS_FILE)

    path = await cache.materialize(REF, artifacts)

    assert path == final and registry.downloads == 2, "the refused entry was replaced from the registry"
    assert cache.outside(path) is None
    for part in (path.parent, path, path / WEIGHTS_FILE, path / CONFIG_FILE):
        assert not part.is_symlink()
        assert part.resolve().is_relative_to((tmp_path / "cache").resolve())
    assert sorted(p.name for p in outside.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE], "the link's target is kept"


async def test_an_entry_inside_the_cache_is_reused(cache: AdapterCache, registry: FakeRegistry) -> None:
    artifacts = registry.publish("support", 3)
    first = await cache.materialize(REF, artifacts)
    again = await cache.materialize(REF, artifacts)
    assert first == again and registry.downloads == 2


@pytest.mark.parametrize("digest", ["../../../etc", "A" * 64, "0" * 63])
async def test_a_digest_that_is_not_sha256_hex_never_becomes_a_path(
        digest: str, cache: AdapterCache, registry: FakeRegistry) -> None:
    artifacts = replace(registry.publish("support", 3), config_sha256=digest)
    with pytest.raises(AdapterRejected, match="not a sha256 hex digest"):
        await cache.materialize(REF, artifacts)
    assert registry.downloads == 0
