"""Prometheus's own promtool checks the scrape config, unit-tests the alerting rules, and lints
the exposition a live node serves; the rules only name metrics a node really exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nodes.runtime.testing import NodeHarness

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make test` installs Debian's prometheus package")


def _promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], input=stdin, capture_output=True, timeout=60,
                          check=False, cwd=MONITORING)


def test_scrape_config_and_rule_files_are_valid():
    out = _promtool("check", "config", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert b"8 rules found" in out.stdout


def test_alert_rules_pass_their_unit_tests():
    out = _promtool("test", "rules", "alerts_test.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert b"SUCCESS" in out.stdout


#: Nodes whose expositions together hold every metric the rules name; the CEX collector's
#: venues point at a closed loopback port (its connection metrics exist from the start).
EXPOSING = [("monitor", {}),
            ("collector-cex", {"venues": "binance", "binance_ws": "ws://127.0.0.1:9",
                               "binance_rest": "http://127.0.0.1:9"})]


def test_a_live_node_exposition_passes_promtool_and_covers_the_rules():
    expositions = []
    for kind, settings in EXPOSING:
        with NodeHarness(kind, settings=settings) as h:
            exposition = h.metrics()
            assert h.stop() == 0
        out = _promtool("check", "metrics", stdin=exposition.encode())
        assert out.returncode == 0, out.stdout + out.stderr
        expositions.append(exposition)
    exposition = "\n".join(expositions)
    exported = set(re.findall(r"^(alphapulse_\w+?)(?:\{| )", exposition, re.M))
    # a counter family with no sample yet (errors by kind) shows only in its TYPE line
    for name in re.findall(r"^# TYPE (alphapulse_\w+) counter$", exposition, re.M):
        exported.add(name if name.endswith("_total") else f"{name}_total")
    used = set(re.findall(r"alphapulse_\w+", (MONITORING / "alerts.yml").read_text()))
    assert used, "the rules name no alphapulse metric"
    assert used <= exported, f"rules name metrics no node exports: {sorted(used - exported)}"
