"""Artifact uploads: accepted only when hash, name, size and content check out; nothing written otherwise."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from adaptloop_registry.bootstrap import create_app
from fastapi.testclient import TestClient
from registry_testkit import auth, config_bytes, make_settings, safetensors_bytes, sha


def stored_files(tmp_path: Path) -> list[Path]:
    root = tmp_path / "artifacts"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def put(client: TestClient, digest: str, filename: str, data: bytes, role: str = "trainer"):  # type: ignore[no-untyped-def]
    return client.put(f"/v1/artifacts/{digest}", params={"filename": filename}, content=data, headers=auth(role))


def test_upload_and_download_by_hash(client: TestClient, tmp_path: Path) -> None:
    weights = safetensors_bytes()
    created = put(client, sha(weights), "adapter_model.safetensors", weights)
    assert created.status_code == 201
    assert created.json() == {"sha256": sha(weights), "size": len(weights), "kind": "weights",
                              "uri": f"http://127.0.0.1:8002/v1/artifacts/{sha(weights)}"}
    assert put(client, sha(weights), "adapter_model.safetensors", weights).status_code == 200
    got = client.get(f"/v1/artifacts/{sha(weights)}")
    assert got.status_code == 200 and got.content == weights
    files = stored_files(tmp_path)
    assert [f.name for f in files] == [sha(weights)]
    assert files[0].relative_to(tmp_path / "artifacts").parts[:3] == ("sha256", sha(weights)[:2], sha(weights)[2:4])
    snapshot = b'{"prompt": "a", "answer": "b"}\n{"prompt": "c", "answer": "d"}\n'
    assert put(client, sha(snapshot), "snapshot.jsonl", snapshot).json()["kind"] == "dataset"


@pytest.mark.parametrize(("filename", "data", "digest", "status", "reason"), [
    ("adapter_config.json", b'{"r": 4}', "0" * 64, 422, "sha256 mismatch"),
    ("../x.json", b'{"r": 4}', None, 422, "plain file name"),
    ("/etc/passwd.json", b'{"r": 4}', None, 422, "plain file name"),
    ("..\\x.json", b'{"r": 4}', None, 422, "plain file name"),
    ("adapter_model.bin", b"\x80\x04K\x01.", None, 422, "pickle"),
    ("model.pt", b"\x80\x04K\x01.", None, 422, "pickle"),
    ("weights.pkl", b"\x80\x04K\x01.", None, 422, "pickle"),
    ("notes.txt", b"hello", None, 422, "not accepted"),
    ("adapter_model.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......", None, 422, "safetensors"),
    ("adapter_model.safetensors", b"abc", None, 422, "safetensors"),
    ("adapter_config.json", b"[1, 2]", None, 422, "JSON object"),
    ("adapter_config.json", b"{oops", None, 422, "JSON"),
    ("snapshot.jsonl", b'{"a": 1}\n[2]\n', None, 422, "line 2"),
    ("adapter_config.json", b"", None, 422, "empty"),
])
def test_refused_uploads_write_nothing(client: TestClient, tmp_path: Path, filename: str, data: bytes,
                                       digest: str | None, status: int, reason: str) -> None:
    response = put(client, digest or hashlib.sha256(data).hexdigest(), filename, data)
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert stored_files(tmp_path) == []
    assert client.get(f"/v1/artifacts/{digest or hashlib.sha256(data).hexdigest()}").status_code == 404


def test_oversized_upload_is_413_and_writes_nothing(backend: tuple[str, str], tmp_path: Path) -> None:
    app = create_app(make_settings(backend, tmp_path, max_artifact_bytes=1024))
    big = json.dumps({"pad": "x" * 5000}).encode()
    with TestClient(app) as client:
        declared = put(client, sha(big), "adapter_config.json", big)
        assert declared.status_code == 413

        def chunks():  # type: ignore[no-untyped-def]
            for i in range(0, len(big), 256):
                yield big[i:i + 256]

        streamed = client.put(f"/v1/artifacts/{sha(big)}", params={"filename": "adapter_config.json"},
                              content=chunks(), headers=auth("trainer"))
        assert streamed.status_code == 413
        assert put(client, sha(config_bytes()), "adapter_config.json", config_bytes()).status_code == 201
    assert [f.name for f in stored_files(tmp_path)] == [sha(config_bytes())]


def test_malformed_hash_in_path_is_refused(client: TestClient, tmp_path: Path) -> None:
    response = put(client, "ABC", "adapter_config.json", b"{}")
    assert response.status_code == 422
    assert stored_files(tmp_path) == []
