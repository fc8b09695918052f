"""The monitor's Prometheus metrics: every node's heartbeats as this node hears them.

Per watched node (label ``watched``, beside ``node``): ``alphapulse_monitor_heartbeats_total``
(beats heard), ``alphapulse_monitor_heartbeat_age_seconds`` (since the last one, at scrape
time), ``alphapulse_monitor_watched_state`` (the NodeState it reported) and
``alphapulse_monitor_watched_stop_latched`` (1 while its beat carries a latched stop).

Thread-safety: the loop thread replaces each watched node's tuple whole; the scrape thread
copies the dict.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from mesh.protocol import Heartbeat


class MonitorMetrics:
    """A prometheus-client collector over the heartbeats heard, per watched node."""

    def __init__(self, node: str) -> None:
        self.node = node
        #: watched node -> (beats, monotonic ns of the last, state, stop latched)
        self.watched: dict[str, tuple[int, int, int, int]] = {}

    def beat(self, hb: Heartbeat, now_ns: int) -> None:
        """Note one heartbeat heard at monotonic ``now_ns``."""
        beats = self.watched.get(hb.node, (0, 0, 0, 0))[0]
        self.watched[hb.node] = (beats + 1, now_ns, hb.state, 1 if hb.stop_latched else 0)

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (scrape thread)."""
        labels = ["node", "watched"]
        beats = CounterMetricFamily("alphapulse_monitor_heartbeats", "Heartbeats heard",
                                    labels=labels)
        age = GaugeMetricFamily("alphapulse_monitor_heartbeat_age_seconds",
                                "Seconds since the last heartbeat", labels=labels)
        state = GaugeMetricFamily("alphapulse_monitor_watched_state",
                                  "NodeState in the last heartbeat", labels=labels)
        latched = GaugeMetricFamily("alphapulse_monitor_watched_stop_latched",
                                    "1 while the node's heartbeat carries a latched stop",
                                    labels=labels)
        now = time.monotonic_ns()
        for watched, (n, last, st, stop) in sorted(self.watched.items()):
            key = [self.node, watched]
            beats.add_metric(key, n)
            age.add_metric(key, max(0, now - last) / 1e9)
            state.add_metric(key, st)
            latched.add_metric(key, stop)
        yield from (beats, age, state, latched)
