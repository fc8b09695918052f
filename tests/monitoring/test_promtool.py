"""Prometheus's own promtool checks the scrape config, unit-tests the alerting rules, and lints
the exposition of live nodes; every alert fires in a test case and has a runbook; every metric a
rule or a dashboard panel names is one a node exports."""

from __future__ import annotations

import json
import re

import yaml

from tests.monitoring.promql import (
    MONITORING,
    PROMETHEUS_OWN,
    ROOT,
    exposition_names,
    live_expositions,
    metric_names,
    registry_exposition,
    run_promtool,
)

RULES = yaml.safe_load((MONITORING / "alerts.yml").read_text())
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"]]


def test_scrape_config_and_rule_files_are_valid():
    out = run_promtool("check", "config", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(ALERTS)} rules found".encode() in out.stdout


def test_alert_rules_pass_their_unit_tests():
    out = run_promtool("test", "rules", "alerts_test.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert b"SUCCESS" in out.stdout


def test_every_alert_fires_in_a_case_and_stays_silent_in_another():
    cases = yaml.safe_load((MONITORING / "alerts_test.yml").read_text())["tests"]
    fires, silent = set(), set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in ALERTS}
    assert names - fires == set(), "alerts without a case where they fire"
    assert names - silent == set(), "alerts without a case where they stay silent"


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the markdown's headings."""
    out = set()
    for title in re.findall(r"^#+ (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_every_alert_links_its_runbook_section():
    anchors = _anchors((ROOT / "docs" / "runbooks.md").read_text())
    for rule in ALERTS:
        url = rule["annotations"].get("runbook_url", "")
        path, _, anchor = url.partition("#")
        assert path == "docs/runbooks.md" and anchor in anchors, (rule["alert"], url)


def test_metric_names_are_read_from_promql():
    expr = ('histogram_quantile(0.99, sum by (le, hop) (rate(a_bucket{x="y(z)"}[5m]))) / 1e9 '
            '> on (node) group_left(s) b_total offset 5m and c unless time() - d')
    assert metric_names(expr) == {"a_bucket", "b_total", "c", "d"}


def test_live_nodes_pass_promtool_and_export_every_metric_rules_and_panels_name():
    expositions = live_expositions()
    for kind, text in expositions.items():
        out = run_promtool("check", "metrics", stdin=text.encode())
        assert out.returncode == 0, (kind, out.stdout + out.stderr)
    exported = set().union(*map(exposition_names, [*expositions.values(), registry_exposition()]))
    exported |= PROMETHEUS_OWN
    in_rules = set().union(*(metric_names(rule["expr"]) for rule in ALERTS))
    assert in_rules - exported == set(), "rules name metrics no node exports"
    dashboard = json.loads((MONITORING / "grafana" / "alphapulse.json").read_text())
    in_panels = {name for panel in dashboard["panels"] for target in panel.get("targets", [])
                 for name in metric_names(target["expr"])}
    assert in_panels, "the dashboard names no metric"
    assert in_panels - exported == set(), "panels name metrics no node exports"


def test_the_scrape_config_names_every_default_node_on_its_metrics_port():
    from mesh.config import load_config
    cfg = load_config(None, env={})
    (job,) = yaml.safe_load((MONITORING / "prometheus.yml").read_text())["scrape_configs"]
    scraped = {c["labels"]["node"]: c["targets"] for c in job["static_configs"]}
    assert scraped == {name: [f"127.0.0.1:{node.metrics_port}"] for name, node in cfg.nodes.items()}
