"""What the monitoring tests share: promtool, the metric names a PromQL expression reads, and the
metric names the nodes export (scraped from live nodes, or read from a collector's registry)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from nodes.runtime.testing import NodeHarness

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
#: Series Prometheus makes itself (not exported by any node).
PROMETHEUS_OWN = frozenset({"up"})
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                       "unless", "offset", "bool", "inf", "nan"})


def tool(name: str) -> str:
    """``promtool`` or ``prometheus`` as `make install` provides them (.venv/bin), else from
    PATH; a test fails (never skips) without one."""
    venv = Path(sys.executable).parent / name
    found = str(venv) if venv.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} missing: `make install` installs it (Debian's prometheus package)")
    return found


def promtool() -> str:
    """The promtool to use (see :func:`tool`)."""
    return tool("promtool")


def run_promtool(*args: str, stdin: bytes | None = None, cwd: Path = MONITORING) -> subprocess.CompletedProcess:
    """Run promtool with ``args`` in ``cwd``; its completed process (not checked)."""
    return subprocess.run([promtool(), *args], input=stdin, capture_output=True, timeout=120,
                          check=False, cwd=cwd)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, keywords, labels or numbers)."""
    s = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", s):
        if re.match(r"\s*\(", s[m.end():]) or m.group().lower() in _KEYWORDS:
            continue
        names.add(m.group())
    return names


def exposition_names(text: str) -> set[str]:
    """Every series name an exposition exports, also of families without a sample yet: a
    counter's ``_total``, a histogram's ``_bucket``, ``_sum`` and ``_count``."""
    names = set(re.findall(r"^([A-Za-z_:][\w:]*)(?:\{| )", text, re.M))
    for name, kind in re.findall(r"^# TYPE (\S+) (\w+)$", text, re.M):
        if kind == "counter":
            names.add(name if name.endswith("_total") else f"{name}_total")
        elif kind == "histogram":
            names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(name)
    return names


#: Nodes whose expositions together hold every domain metric; without a chain (a manifest that
#: does not exist) the chain nodes wait and retry, their metrics served from the start; the CEX
#: collector's venue points at a closed loopback port.
LIVE = [("monitor", {}),
        ("collector-cex", {"venues": "binance", "binance_ws": "ws://127.0.0.1:9",
                           "binance_rest": "http://127.0.0.1:9"}),
        ("collector-evm", {"manifest": "/nonexistent/manifest.json"}),
        ("strategy", {"manifest": "/nonexistent/manifest.json"}),
        ("executor", {"manifest": "/nonexistent/manifest.json"}),
        ("risk", {}),
        ("portfolio", {}),
        ("archiver", {})]


def scrape(kind: str, settings: dict) -> str:
    """Run node ``kind`` alone and scrape its /metrics once; the exposition."""
    with NodeHarness(kind, settings=settings, start_timeout=180) as h:
        return h.metrics()


def live_expositions(nodes: Iterable[tuple[str, dict]] = LIVE) -> dict[str, str]:
    """Every node of ``nodes`` run, a few at once; kind -> its exposition."""
    nodes = list(nodes)
    with ThreadPoolExecutor(4) as pool:
        texts = list(pool.map(lambda n: scrape(*n), nodes))
    return {kind: text for (kind, _), text in zip(nodes, texts, strict=True)}


def registry_exposition() -> str:
    """The process-events node's metrics through its collector (a supervisord eventlistener
    that needs supervisord to run: tests/nodes/process_events runs it live)."""
    from nodes.process_events.metrics import ProcessCollector
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProcessCollector(lambda: [("strategy", {}, True, 0)]))
    return generate_latest(registry).decode()
