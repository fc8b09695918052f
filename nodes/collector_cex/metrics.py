"""collector-cex's Prometheus metrics: disconnections and connection state per venue.

``alphapulse_cex_disconnections_total{node, venue}`` counts open connections lost or closed
(the seeds alert above 5 an hour); ``alphapulse_cex_connect_failures_total`` counts attempts
that never opened; ``alphapulse_cex_connected{node, venue}`` is 1 while connected.
Thread-safety: the loop thread updates the dicts; the scrape thread only reads them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


class CexCollector:
    """A prometheus-client collector over per-venue dicts.

    Parameters
    ----------
    node : str
        The ``node`` label.
    venues : list of str
        The venues (labels), every one exported from the start.
    """

    def __init__(self, node: str, venues: list[str]) -> None:
        self.node = node
        self.disconnections = dict.fromkeys(venues, 0)
        self.connect_failures = dict.fromkeys(venues, 0)
        self.connected = dict.fromkeys(venues, 0)

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (called by the scrape thread)."""
        labels = ["node", "venue"]
        lost = CounterMetricFamily("alphapulse_cex_disconnections",
                                   "Websocket connections to a venue lost or closed",
                                   labels=labels)
        failed = CounterMetricFamily("alphapulse_cex_connect_failures",
                                     "Websocket connection attempts that failed", labels=labels)
        up = GaugeMetricFamily("alphapulse_cex_connected", "1 while connected to the venue",
                               labels=labels)
        for venue in list(self.connected):
            lost.add_metric([self.node, venue], self.disconnections[venue])
            failed.add_metric([self.node, venue], self.connect_failures[venue])
            up.add_metric([self.node, venue], self.connected[venue])
        yield from (lost, failed, up)
