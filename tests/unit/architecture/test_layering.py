"""The import rules of docs/architecture.md#layering, checked by import-linter (contracts in pyproject.toml).

`lint-imports` reads the source of every package (libs and services, inference and trainer included,
though they are installed in the model environment) without importing it, so it runs in a child
process whose PYTHONPATH holds every package's src directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SRC_DIRS = sorted(ROOT.glob("libs/*/src")) + sorted(ROOT.glob("services/*/src"))


def test_every_package_keeps_the_import_contracts() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in SRC_DIRS)}
    done = subprocess.run([str(lint_imports), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)

    report = done.stdout + done.stderr
    assert done.returncode == 0, f"import contracts broken (see docs/architecture.md#layering):\n{report}"
    assert "0 broken" in report and "BROKEN" not in report, report


def test_the_contracts_cover_every_package() -> None:
    """A new lib or service must be named in the contracts, or its imports go unchecked."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    packages = {child.name for src in SRC_DIRS for child in src.iterdir()
                if child.is_dir() and (child / "__init__.py").exists()}
    assert set(config["root_packages"]) == packages
    contracts = {c["name"]: c for c in config["contracts"]}
    services = {p for p in packages if (ROOT / "services" / p.removeprefix("adaptloop_")).is_dir()}
    assert set(contracts["libs never import services"]["source_modules"]) == packages - services
    assert set(contracts["libs never import services"]["forbidden_modules"]) == services
    assert set(contracts["services never import each other"]["modules"]) == services
    guarded = {m.split(".")[0] for c in contracts.values() if c["type"] == "protected" for m in c["protected_modules"]}
    assert guarded == services


def test_benchmarks_import_no_test_code() -> None:
    """Benchmarks share helpers with tests through libs (adaptloop_devstack), never through tests/."""
    import ast

    test_modules = {path.stem for path in (ROOT / "tests").rglob("*.py")}
    found = []
    for path in sorted((ROOT / "bench").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                names = []
            found += [f"{path.relative_to(ROOT)}:{node.lineno} imports {name}" for name in names
                      if name.split(".")[0] in test_modules | {"tests"}]
            if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", "") == "sys":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} changes sys.path")
    assert not found, "\n".join(found)
