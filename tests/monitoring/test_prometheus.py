"""The real Prometheus server, with monitoring/prometheus.yml's job and alerts.yml, scrapes a live
node: the series keep the node's own labels and every rule evaluates healthy."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import yaml

from alphapulse.ports import free_port
from nodes.runtime.testing import NodeHarness
from tests.monitoring.promql import MONITORING, tool


def _get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return json.load(resp)["data"]


def _evaluated(rules: dict) -> list[dict]:
    every = [r for g in rules["groups"] for r in g["rules"]]
    return every if every and all(not r["lastEvaluation"].startswith("0001") for r in every) else []


def test_prometheus_scrapes_a_node_and_evaluates_every_rule(tmp_path):
    shutil.copy(MONITORING / "alerts.yml", tmp_path / "alerts.yml")
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    with NodeHarness("executor", settings={"manifest": "/nonexistent/manifest.json"},
                     start_timeout=180) as h:
        (job,) = config["scrape_configs"]
        job["static_configs"] = [{"targets": [f"127.0.0.1:{h.metrics_port}"],
                                  "labels": {"node": "executor"}}]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        server = subprocess.Popen(
            [tool("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"))
        try:
            deadline = time.monotonic() + 180
            rules, series = [], []
            while time.monotonic() < deadline and not (rules and series):
                time.sleep(0.5)
                try:
                    rules = _evaluated(_get(port, "/api/v1/rules"))
                    series = _get(port, "/api/v1/query?query=alphapulse_executor_results_total")["result"]
                except (OSError, urllib.error.URLError):
                    continue
            up = _get(port, '/api/v1/query?query=up{node="executor"}')["result"] if series else []
        finally:
            server.terminate()
            server.wait(30)
    log = (tmp_path / "prometheus.log").read_text()[-2000:]
    assert rules and series, f"no rule evaluation or no series within the deadline\n{log}"
    assert [r["name"] for r in rules if r["health"] != "ok"] == []
    assert len(rules) == len([r for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
                              for r in g["rules"]])
    assert all(s["metric"]["node"] == "executor" and "exported_node" not in s["metric"] for s in series)
    assert [s["value"][1] for s in up] == ["1"]
