"""The Prometheus files under deploy/prometheus/ are valid, and the alert rules fire when
they should: promtool (from Debian's prometheus package) checks and unit-tests them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60)


def test_scrape_config_and_rules_are_valid() -> None:
    checked = promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout


def test_alerts_fire_on_error_rate_latency_and_a_down_replica() -> None:
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    names = {
        r.get("alert")
        for g in yaml.safe_load((DEPLOY / "alerts.rules.yml").read_text())["groups"]
        for r in g["rules"]
    }
    assert {"PierHighErrorRate", "PierHighP99Latency", "PierReplicaDown"} <= names


def test_operator_resources_match_the_plain_files() -> None:
    rule = yaml.safe_load((DEPLOY / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    plain = yaml.safe_load((DEPLOY / "alerts.rules.yml").read_text())
    assert rule["spec"]["groups"] == plain["groups"]
    monitor = yaml.safe_load((DEPLOY / "servicemonitor.yaml").read_text())
    assert monitor["kind"] == "ServiceMonitor"
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/managed-by": "pier",
        "app.kubernetes.io/component": "inference",
    }
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")


@pytest.mark.parametrize("name", ["prometheus-kubernetes.yml"])
def test_kubernetes_scrape_config_keeps_only_pier_pods(name: str) -> None:
    # Debian's promtool is built without Kubernetes discovery: check the shape instead.
    config = yaml.safe_load((DEPLOY / name).read_text())
    (job,) = config["scrape_configs"]
    keeps = {
        tuple(r["source_labels"]): r["regex"]
        for r in job["relabel_configs"]
        if r.get("action") == "keep"
    }
    assert keeps[("__meta_kubernetes_pod_label_app_kubernetes_io_managed_by",)] == "pier"
    assert keeps[("__meta_kubernetes_pod_container_port_name",)] == "http"
