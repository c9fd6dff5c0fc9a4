"""Field names of each service's `Settings`, read from the source with `ast`.

Deployment files (docker-compose, Kubernetes manifests) set `ADAPTLOOP_<SVC>_<FIELD>`
variables; reading the classes without importing them lets the stream environment check the
model environment's services too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
COMMON_SETTINGS = ROOT / "libs/common/src/adaptloop_common/settings.py"


def settings_fields(path: Path, class_name: str) -> set[str]:
    """Names of the annotated attributes of `class_name` in the module at `path`."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return {
                stmt.target.id
                for stmt in node.body
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
            }
    raise AssertionError(f"{class_name} not found in {path}")


def service_settings_fields(service: str) -> set[str]:
    """Every setting of a service: the shared `ServiceSettings` fields and its own `Settings`."""
    common = settings_fields(COMMON_SETTINGS, "ServiceSettings")
    own = settings_fields(ROOT / f"services/{service}/src/adaptloop_{service}/config.py", "Settings")
    return common | own


def env_setting_name(service: str, variable: str) -> str | None:
    """The settings field an environment variable sets for `service`, or None without its prefix."""
    prefix = f"ADAPTLOOP_{service.upper()}_"
    return variable[len(prefix):].lower() if variable.startswith(prefix) else None
