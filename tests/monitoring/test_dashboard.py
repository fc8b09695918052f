"""The Grafana dashboard is provisioning-ready: valid JSON, every panel placed and bound to the
provisioned datasource, every query valid PromQL (promtool) naming metrics only (which metrics:
test_promtool's live-node check covers the panels too)."""

from __future__ import annotations

import json

import yaml

from tests.monitoring.promql import MONITORING, metric_names, run_promtool

GRAFANA = MONITORING / "grafana"
DASHBOARD = json.loads((GRAFANA / "alphapulse.json").read_text())
PANELS = DASHBOARD["panels"]
QUERIES = [(p["title"], t["expr"]) for p in PANELS for t in p.get("targets", [])]


def test_provisioning_loads_the_dashboard_on_the_datasource_its_panels_name():
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "alphapulse.yml").read_text())
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "alphapulse.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and sources["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].endswith("monitoring/grafana")
    uids = {p["datasource"]["uid"] for p in PANELS if p["type"] != "row"}
    uids |= {t["datasource"]["uid"] for p in PANELS for t in p.get("targets", [])}
    assert uids == {source["uid"]}


def test_panels_are_placed_once_with_unique_ids_and_queries():
    assert DASHBOARD["uid"] and DASHBOARD["title"] and DASHBOARD["schemaVersion"] >= 36
    ids = [p["id"] for p in PANELS]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in PANELS:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
        if p["type"] != "row":
            assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), p["title"]
            refs = [t["refId"] for t in p["targets"]]
            assert len(refs) == len(set(refs)), p["title"]


def test_the_operator_panels_are_there():
    titles = " | ".join(p["title"].lower() for p in PANELS)
    for what in ("nodes up", "heartbeat", "emergency stop", "ring frames", "lost", "detection",
                 "execution", "opportunities", "success rate", "predicted vs realized", "gas",
                 "p&l", "websocket", "restarts"):
        assert what in titles, what


def test_every_query_is_valid_promql_naming_metrics(tmp_path):
    assert all(metric_names(expr) for _, expr in QUERIES)
    # promtool parses a rule file: each query becomes a recording rule ($__rate_interval is
    # Grafana's: a plain duration here).
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "1m")}
        for i, (_, expr) in enumerate(QUERIES)]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    out = run_promtool("check", "rules", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(QUERIES)} rules found".encode() in out.stdout
