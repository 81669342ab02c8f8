"""The Grafana dashboard: valid JSON, provisioned, and its PromQL asks only for real metrics.

Every panel query is parsed by a PromQL parser (promql-parser, the Rust parser's Python
binding) after Grafana's built-in range variables are substituted; the metric and label
names it selects must be among those that the reference server's ``/metrics`` really
exports (scraped here from the app) or that Prometheus's scrape configuration adds.
"""

from __future__ import annotations

import json
from typing import Any

import promql_parser
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.rig import DASHBOARD_JSON, DEPLOY_DIR, PROMETHEUS_YML

GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "15s"}
PROVISIONING = DEPLOY_DIR / "grafana" / "provisioning"


def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD_JSON.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def queries() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard()["panels"]
        for target in panel["targets"]
    ]


def parse(expr: str) -> Any:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr}"
    return promql_parser.parse(expr)


def selected(expr: str) -> tuple[set[str], set[str]]:
    """Metric names and label names (matchers and grouping) that a query refers to."""
    metrics: set[str] = set()
    labels: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"a selector without a metric name in {expr}"
            metrics.add(node.name)
            labels.update(m.name for m in node.matchers.matchers)
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            labels.update(node.modifier.labels)
        return True

    promql_parser.walk(parse(expr), visit)
    return metrics, labels


@pytest.fixture
def exported(client: TestClient) -> tuple[set[str], set[str]]:
    """Sample names and label names of the server's real /metrics after some traffic."""
    assert client.get("/messageexchange/_ping").status_code == 200
    assert client.get("/no/such/route").status_code == 404
    assert client.get("/health/ready").status_code == 200
    text = client.get("/metrics").text
    names: set[str] = set()
    labels: set[str] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            names.add(sample.name)
            labels.update(sample.labels)
    return names, labels


def scrape_labels() -> set[str]:
    """Labels Prometheus attaches to every scraped series of the rig."""
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    added = {"job", "instance"}
    for job in config["scrape_configs"]:
        for group in job["static_configs"]:
            added.update(group.get("labels", {}))
    return added


def test_dashboard_is_valid_json_with_unique_panels() -> None:
    data = dashboard()
    assert data["uid"] == "spine-harness"
    ids = [panel["id"] for panel in data["panels"]]
    assert len(ids) == len(set(ids)) == 12
    for panel in data["panels"]:
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))


def test_dashboard_covers_traffic_errors_latency_availability_and_budget() -> None:
    titles = " ".join(panel["title"].lower() for panel in dashboard()["panels"])
    for topic in ("traffic", "errors", "latency", "availability", "error budget", "burn rate"):
        assert topic in titles
    exprs = " ".join(expr for _, expr in queries())
    assert "0.0003" in exprs
    assert "0.9997" in exprs
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in exprs


@pytest.mark.parametrize(("title", "expr"), queries())
def test_every_query_selects_only_exported_metrics(
    exported: tuple[set[str], set[str]], title: str, expr: str
) -> None:
    names, labels = exported
    metrics, used_labels = selected(expr)
    assert metrics <= names, f"{title}: {metrics - names} not exported by the server"
    known = labels | scrape_labels()
    assert used_labels <= known, f"{title}: unknown labels {used_labels - known}"


def test_checker_notices_a_metric_the_server_does_not_export(
    exported: tuple[set[str], set[str]],
) -> None:
    names, _ = exported
    assert "spine_requests_total" in names
    metrics, _ = selected('sum(rate(spine_request_total{status=~"5.."}[$__rate_interval]))')
    assert not metrics <= names
    with pytest.raises(ValueError, match="unclosed left parenthesis"):
        parse("sum(rate(spine_requests_total[5m])")


def test_datasource_and_dashboard_are_provisioned() -> None:
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert (source["type"], source["url"]) == ("prometheus", "http://prometheus:9090")
    for panel in dashboard()["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        assert all(t["datasource"]["uid"] == source["uid"] for t in panel["targets"])
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "spine.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
