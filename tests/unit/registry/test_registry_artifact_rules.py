"""Artifact file names and contents: what is accepted, what is refused and why (no I/O beyond tmp files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from adaptloop_registry.artifact_rules import check_content, kind_of_filename
from adaptloop_registry.errors import Invalid
from adaptloop_registry.infra.artifact_store import LocalArtifactStore
from safetensors.numpy import save


@pytest.mark.parametrize(("name", "kind"), [
    ("adapter_model.safetensors", "weights"), ("adapter_config.json", "config"), ("snapshot.jsonl", "dataset"),
    ("Model-2.SAFETENSORS", "weights"),
])
def test_accepted_names(name: str, kind: str) -> None:
    assert kind_of_filename(name) == kind


@pytest.mark.parametrize(("name", "reason"), [
    ("../x.json", "plain file name"), ("/abs/x.json", "plain file name"), ("a/b.json", "plain file name"),
    ("a\\b.json", "plain file name"), (".hidden.json", "plain file name"), ("x..json", "plain file name"),
    ("pytorch_model.bin", "pickle"), ("model.pt", "pickle"), ("m.pth", "pickle"), ("m.pkl", "pickle"),
    ("m.ckpt", "pickle"), ("notes.txt", "not accepted"), ("a b.json", "letters, digits"), ("", "letters, digits"),
])
def test_refused_names(name: str, reason: str) -> None:
    with pytest.raises(Invalid, match=reason):
        kind_of_filename(name)


def test_content_checks(tmp_path: Path) -> None:
    weights = tmp_path / "w"
    weights.write_bytes(save({"a": np.ones((2, 2), dtype=np.float32)}))
    check_content("weights", weights)
    cases = {
        ("weights", b"\x05\x00\x00\x00\x00\x00\x00\x00{}"): "safetensors",
        ("weights", b"\xff" * 16): "header length",
        ("config", b"[]"): "JSON object",
        ("config", b"\xff"): "UTF-8",
        ("dataset", b'{"a": 1}\n"text"\n'): "line 2",
    }
    for (kind, data), reason in cases.items():
        path = tmp_path / "f"
        path.write_bytes(data)
        with pytest.raises(Invalid, match=reason):
            check_content(kind, path)  # type: ignore[arg-type]


def test_store_paths_derive_only_from_the_hash(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    digest = "ab" * 32
    assert store.path_of(digest) == tmp_path.resolve() / "sha256" / "ab" / "ab" / digest
    for bad in ("../" + "a" * 61, "A" * 64, "a" * 63):
        with pytest.raises(ValueError):
            store.path_of(bad)
    staged = store.stage()
    staged.write(b"{}")
    store.publish(staged, digest)
    assert store.size(digest) == 2 and b"".join(store.read(digest)) == b"{}"
    assert list((tmp_path / "tmp").iterdir()) == []
