"""Prometheus and Grafana of the docker-compose stack stay true to the code.

Every PromQL query of the provisioned dashboards names only metrics the services export, read
from the code's prometheus_client definitions with `ast` (so the model environment's services
count too); Prometheus scrapes every service of the stack; the provisioning points at the files.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from settings_fields import COMMON_SETTINGS, settings_fields

ROOT = Path(__file__).resolve().parents[3]
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
GRAFANA = ROOT / "deploy/grafana/provisioning"
PROMETHEUS_SERIES = {"up"}
"""Series Prometheus writes itself for every target."""

_SUFFIXES = {
    "Counter": ("_total", "_created"), "Gauge": ("",), "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "Summary": ("_sum", "_count", "_created"), "Info": ("_info",), "Enum": ("",),
    "CounterMetricFamily": ("_total", "_created"), "GaugeMetricFamily": ("",),
    "HistogramMetricFamily": ("_bucket", "_sum", "_count"), "SummaryMetricFamily": ("_sum", "_count"),
}


def _prometheus_names(tree: ast.AST) -> dict[str, str]:
    """Local names bound to prometheus_client metric classes in a module (`from prometheus_client... import`)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prometheus_client"):
            for alias in node.names:
                if alias.name in _SUFFIXES:
                    names[alias.asname or alias.name] = alias.name
    return names


@functools.cache
def exported_metric_names() -> frozenset[str]:
    """Every series name the services' and libraries' prometheus_client definitions export."""
    out: set[str] = set()
    for path in [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("libs/*/src/**/*.py")]:
        tree = ast.parse(path.read_text())
        classes = _prometheus_names(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in classes):
                continue
            if not (node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                continue
            kind, name = classes[node.func.id], node.args[0].value
            if kind.startswith("Counter"):
                name = name.removesuffix("_total")
            out.update(name + suffix for suffix in _SUFFIXES[kind])
    return frozenset(out)


_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
             "unless", "inf", "nan"}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression (or a Grafana `label_values(...)` query) selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", r"\1", expr)  # Grafana: the label argument
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)  # label lists
    expr = re.sub(r"\$\w+", " ", expr)  # dashboard variables
    names = set()
    for match in re.finditer(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(\s*\()?", expr):
        word, call = match.group(1), match.group(2)
        if not call and word.lower() not in _KEYWORDS:
            names.add(word)
    return names


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, query) of every panel target and every query variable."""
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            yield f"variable {variable['name']!r}", query["query"] if isinstance(query, dict) else query


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_the_metric_names_are_read_from_the_code() -> None:
    names = exported_metric_names()
    assert {"adaptloop_inference_request_seconds_bucket", "adaptloop_trainer_jobs_finished_total",
            "adaptloop_drift_signal_mean_coded", "adaptloop_kafka_published_total"} <= names
    assert "adaptloop_trainer_jobs_finished" not in names


def test_promql_names_are_found_and_nothing_else() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, endpoint) (rate(a_bucket{job=~"x|y", le!="1"}[$__rate_interval])))'
            " / on (job) group_left sum without (instance) (b_total offset 5m) > bool 0 unless c")
    assert promql_metric_names(expr) == {"a_bucket", "b_total", "c"}
    assert promql_metric_names('label_values(m{adapter=~"$adapter"}, version)') == {"m"}


def test_the_four_dashboards_are_provisioned() -> None:
    titles = {_load(p)["title"] for p in DASHBOARDS}
    assert titles == {"adaptloop: loop overview", "adaptloop: drift signals", "adaptloop: inference swaps and latency",
                      "adaptloop: trainer jobs"}
    assert len({_load(p)["uid"] for p in DASHBOARDS}) == len(DASHBOARDS)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_query_names_a_metric_the_services_export(path: Path) -> None:
    exported = exported_metric_names() | PROMETHEUS_SERIES
    dashboard = _load(path)
    queries = list(_queries(dashboard))
    assert queries, f"{path.name} has no queries"
    for where, query in queries:
        names = promql_metric_names(query)
        assert names, f"{path.name} {where}: no metric in {query!r}"
        unknown = names - exported
        assert not unknown, f"{path.name} {where}: {sorted(unknown)} not exported by any service ({query!r})"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_reads_the_provisioned_datasource(path: Path) -> None:
    [source] = yaml.safe_load((GRAFANA / "datasources/prometheus.yaml").read_text())["datasources"]
    for panel in _panels(_load(path)["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"


def test_prometheus_scrapes_every_service_of_the_stack() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = {}
    for name, spec in compose["services"].items():
        probe = " ".join(spec.get("healthcheck", {}).get("test", []))
        port = re.search(r"127\.0\.0\.1:(\d+)/readyz", probe)
        if port:  # an adaptloop HTTP service
            aliases = spec.get("networks", {}).get("default", {}).get("aliases", [])
            services[aliases[0] if aliases else name] = port.group(1)
    assert {"registry", "ingest", "drift", "trainer", "inference", "dashboard"} <= set(services)
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] if job.get("metrics_path", "/metrics") == "/metrics"
               for static in job["static_configs"] for t in static["targets"]}
    assert targets == {f"{name}:{port}" for name, port in services.items()}


def _bind_mounts(spec: dict[str, Any]) -> dict[str, Path]:
    """Container path -> repository path of a compose service's bind mounts."""
    return {m.split(":")[1]: ROOT / m.split(":")[0] for m in spec["volumes"] if m.startswith("./")}


def test_compose_mounts_the_provisioning_where_grafana_reads_it() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    mounts = _bind_mounts(compose["grafana"])
    [provider] = yaml.safe_load((GRAFANA / "dashboards/adaptloop.yaml").read_text())["providers"]
    assert mounts[provider["options"]["path"]] == ROOT / "deploy/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == GRAFANA
    home = compose["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "deploy/grafana/dashboards" / Path(home).name).is_file()
    prometheus = _bind_mounts(compose["prometheus"])
    assert prometheus["/etc/prometheus/prometheus.yml"].is_file()
    assert all(path.exists() for path in [*mounts.values(), *prometheus.values()])


def test_the_dashboard_service_of_the_stack_is_configured_with_its_settings() -> None:
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["dashboard"]
    fields = settings_fields(COMMON_SETTINGS, "ServiceSettings") | settings_fields(
        ROOT / "libs/dashboard/src/adaptloop_dashboard/config.py", "Settings")
    env = {k.removeprefix("ADAPTLOOP_DASHBOARD_").lower(): v for k, v in spec["environment"].items()
           if k.startswith("ADAPTLOOP_")}
    assert set(env) <= fields
    assert {"registry_url", "trainer_url", "drift_url", "inference_url"} <= set(env)
    assert (ROOT / spec["build"]["dockerfile"]).is_file()
