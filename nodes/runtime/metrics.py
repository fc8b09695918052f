"""The Prometheus endpoint of a node: mesh counters read at scrape time.

Metrics (all labelled ``node``): ``alphapulse_frames_in_total``, ``alphapulse_frames_out_total``,
``alphapulse_gaps_total``, ``alphapulse_missed_total``, ``alphapulse_duplicates_total``,
``alphapulse_reordered_total``, ``alphapulse_drops_total``, ``alphapulse_recovered_total``,
``alphapulse_recovery_failures_total``, ``alphapulse_errors_total{kind}``, the gauges
``alphapulse_node_state`` (NodeState), ``alphapulse_stop_latched``, ``alphapulse_halted`` and
``alphapulse_start_time_seconds`` (Unix time the endpoint opened, near the node's start; rules
use it to wait out a node's first hour), and per ring (labels
``node``, ``ring``) ``alphapulse_ring_frames_written_total`` for the node's own rings,
``alphapulse_ring_frames_read_total`` and ``alphapulse_ring_frames_lost_total`` for the rings
it reads (lost: frames its writer overwrote before this node read them).

Thread-safety: the HTTP server runs in its own daemon thread and only reads the counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from mesh.stats import MeshStats
from nodes.runtime.rings import RingCount

RingCounts = Callable[[], Sequence[RingCount]]

_COUNTERS = ("frames_in", "frames_out", "gaps", "missed", "duplicates", "reordered", "drops",
             "recovered", "recovery_failures")


class MeshCollector:
    """A prometheus-client collector over a :class:`MeshStats` and two gauges."""

    def __init__(self, node: str, stats: MeshStats, gauges: Callable[[], dict[str, float]],
                 rings: RingCounts | None = None) -> None:
        self.node = node
        self.stats = stats
        self.gauges = gauges
        self.rings = rings
        self.started = time.time()

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (called by the scrape thread)."""
        for name in _COUNTERS:
            c = CounterMetricFamily(f"alphapulse_{name}", f"Mesh {name.replace('_', ' ')}",
                                    labels=["node"])
            c.add_metric([self.node], getattr(self.stats, name))
            yield c
        errors = CounterMetricFamily("alphapulse_errors", "Errors by kind",
                                     labels=["node", "kind"])
        for kind, n in list(self.stats.errors.items()):
            errors.add_metric([self.node, kind], n)
        yield errors
        for name, value in {**self.gauges(), "start_time_seconds": self.started}.items():
            g = GaugeMetricFamily(f"alphapulse_{name}", name.replace("_", " "), labels=["node"])
            g.add_metric([self.node], value)
            yield g
        if self.rings is not None:
            yield from self._ring_metrics(self.rings())

    def _ring_metrics(self, counts: Sequence[RingCount]) -> Iterator[Metric]:
        labels = ["node", "ring"]
        written = CounterMetricFamily("alphapulse_ring_frames_written",
                                      "Frames this node wrote to its ring", labels=labels)
        read = CounterMetricFamily("alphapulse_ring_frames_read",
                                   "Frames this node read from a ring", labels=labels)
        lost = CounterMetricFamily("alphapulse_ring_frames_lost",
                                   "Frames overwritten before this node read them",
                                   labels=labels)
        for c in counts:
            if c.role == "writer":
                written.add_metric([self.node, c.ring], c.frames)
            else:
                read.add_metric([self.node, c.ring], c.frames)
                lost.add_metric([self.node, c.ring], c.lost)
        yield from (written, read, lost)


class MetricsServer:
    """Serve a node's metrics on ``addr:port`` until :meth:`close`."""

    def __init__(self, node: str, stats: MeshStats, gauges: Callable[[], dict[str, float]],
                 port: int, addr: str = "127.0.0.1", rings: RingCounts | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(MeshCollector(node, stats, gauges, rings))
        self.server, self.thread = start_http_server(port, addr, registry=self.registry)
        self.port = self.server.server_port

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=2)
