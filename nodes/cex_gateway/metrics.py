"""The gateway's Prometheus metrics, read at scrape time.

``alphapulse_cex_gateway_events_total{node, event}``: orders sent, refused by reason
(``refused_<reason>``), rejected by the venue (``binance_<code>``), duplicates, fills, cancels,
foreign and malformed user-data events; ``alphapulse_cex_gateway_rest_total{node, what}``: REST
requests, 429/418 answers, back-off waits and refusals; ``alphapulse_cex_gateway_user_stream_total
{node, what}``: user-data stream connects, disconnects and keepalives; the gauges
``alphapulse_cex_gateway_ready`` (1 once rules, stream and first valuation are in),
``alphapulse_cex_gateway_open_orders`` and ``alphapulse_cex_gateway_daily_loss`` (cash units).

Thread-safety: the scrape thread only reads ints and copies of Counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

__all__ = ["GatewayCollector"]


class GatewayCollector:
    """A prometheus-client collector over the gateway node's counters.

    Parameters
    ----------
    node : str
    gateway : object
        The node: ``counts`` (Counter), ``venue`` (or None), and ``gauges()``.
    """

    def __init__(self, node: str, gateway: Any, gauges: Callable[[], dict[str, float]]) -> None:
        self.node = node
        self.gateway = gateway
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (called by the scrape thread)."""
        events = CounterMetricFamily("alphapulse_cex_gateway_events", "Gateway events by kind",
                                     labels=["node", "event"])
        for event, n in list(self.gateway.counts.items()):
            events.add_metric([self.node, event], n)
        yield events
        venue = self.gateway.venue
        rest = CounterMetricFamily("alphapulse_cex_gateway_rest", "REST requests and limits",
                                   labels=["node", "what"])
        stream = CounterMetricFamily("alphapulse_cex_gateway_user_stream",
                                     "User-data stream connections", labels=["node", "what"])
        if venue is not None:
            st = venue.rest.stats
            rest.add_metric([self.node, "requests"], sum(list(st.requests.values())))
            rest.add_metric([self.node, "rate_limited"], st.rate_limited)
            rest.add_metric([self.node, "backoff_waits"], st.backoff_waits)
            rest.add_metric([self.node, "backoff_refusals"], st.backoff_refusals)
            rest.add_metric([self.node, "time_syncs"], st.time_syncs)
            stream.add_metric([self.node, "connects"], venue.stream_connects)
            stream.add_metric([self.node, "disconnects"], venue.stream_disconnects)
            stream.add_metric([self.node, "keepalives"], venue.keepalives)
        yield rest
        yield stream
        for name, value in self.gauges().items():
            g = GaugeMetricFamily(f"alphapulse_cex_gateway_{name}", name.replace("_", " "),
                                  labels=["node"])
            g.add_metric([self.node], value)
            yield g
