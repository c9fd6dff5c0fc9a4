"""`adaptloop examples import`: every line checked first; a bad line names itself and nothing is sent."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from adaptloop_cli import datasets
from adaptloop_cli.context import CliContext
from adaptloop_cli.main import app
from adaptloop_cli.settings import CliSettings
from cli_fakes import support_adapter
from typer.testing import CliRunner, Result

TOKEN = "admin-token"


class Services:
    def __init__(self) -> None:
        self.posted: list[list[dict[str, str]]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.port == 8002:  # the registry knows one adapter
            known = request.url.path == "/v1/adapters/support"
            return httpx.Response(200 if known else 404,
                                  json=support_adapter() if known else {"detail": "adapter not found"})
        assert request.url.path == "/v1/examples" and request.headers["authorization"] == f"Bearer {TOKEN}"
        items = json.loads(request.content)
        self.posted.append(items)
        return httpx.Response(201, json={"imported": len(items) - 1, "duplicates": 1, "example_ids": []})

    def cli(self, *args: str) -> Result:
        context = CliContext(settings=CliSettings(token=TOKEN), transport=httpx.MockTransport(self.handle))
        return CliRunner().invoke(app, list(args), obj=context, env={"COLUMNS": "200"})


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_pairs_and_one_turn_chats_are_imported_in_one_request(tmp_path: Path) -> None:
    services = Services()
    file = write(tmp_path / "ex.jsonl", '{"prompt": "p1", "answer": "a1"}', "",
                 '{"messages": [{"role": "user", "content": "p2"}, {"role": "assistant", "content": "a2"}]}')
    result = services.cli("examples", "import", "support", str(file), "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"adapter": "support", "lines": 2, "imported": 1, "duplicates": 1}
    assert services.posted == [[{"adapter": "support", "prompt": "p1", "answer": "a1"},
                                {"adapter": "support", "prompt": "p2", "answer": "a2"}]]


def test_bad_lines_are_each_named_and_nothing_is_imported(tmp_path: Path) -> None:
    services = Services()
    file = write(tmp_path / "ex.jsonl", '{"prompt": "p1", "answer": "a1"}', "{not json",
                 '{"prompt": "p", "answer": ""}', '{"messages": [{"role": "system", "content": "s"}]}',
                 '{"prompt": "p", "answer": "a", "x": 1}', "[1]")
    result = services.cli("examples", "import", "support", str(file))
    assert result.exit_code == 2 and services.posted == []
    lines = result.stderr.splitlines()
    assert [line.split(": ")[1] for line in lines[:5]] == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    assert "answer must be a non-empty string" in lines[1] and "one user message" in lines[2]
    assert lines[-1] == f"error: {file}: 5 bad line(s); nothing was imported"


@pytest.mark.parametrize("case", ["missing", "directory", "oversized", "empty", "unknown adapter"])
def test_wrong_input_is_one_line_and_exit_2(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    services = Services()
    file = write(tmp_path / "ex.jsonl", '{"prompt": "p1", "answer": "a1"}')
    adapter, expected = "support", ""
    if case == "missing":
        file, expected = tmp_path / "nope.jsonl", "no such file"
    elif case == "directory":
        file, expected = tmp_path, "not a file"
    elif case == "oversized":
        monkeypatch.setattr(datasets, "MAX_EXAMPLES_BYTES", 8)
        expected = "more than the 8"
    elif case == "empty":
        file.write_text("")
        expected = "empty"
    else:
        adapter, expected = "nobody", "'nobody' is not registered"
    result = services.cli("examples", "import", adapter, str(file))
    assert result.exit_code == 2 and services.posted == []
    assert result.stderr.count("error:") == 1 and expected in result.stderr, result.stderr


def test_a_file_over_one_import_is_refused_whole(tmp_path: Path) -> None:
    services = Services()
    pairs = [json.dumps({"prompt": f"p{i}", "answer": f"a{i}"}) for i in range(datasets.BATCH + 1)]
    result = services.cli("examples", "import", "support", str(write(tmp_path / "big.jsonl", *pairs)))
    assert result.exit_code == 2 and services.posted == []
    assert f"{datasets.BATCH + 1} examples; one import takes at most {datasets.BATCH}" in result.output
