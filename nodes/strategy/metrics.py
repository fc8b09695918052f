"""The strategy node's Prometheus metrics.

All labelled ``node``: ``alphapulse_strategy_opportunities_total{strategy}`` (opportunities
published), ``alphapulse_strategy_predicted_profit_usd_total{strategy}`` (their net profit as
sized, USD), ``alphapulse_strategy_withheld_total`` (sized while a stop was latched, not
published), ``alphapulse_strategy_deferred_total`` (candidates left to the next block by the
pass's time budget), the gauges ``alphapulse_strategy_pools`` and ``alphapulse_strategy_cycles``,
and the histogram ``alphapulse_strategy_detect_seconds``: from the price update (the header time
of the first ``BlockEnd`` frame of the ring batch the evaluation ran on, when the collector
closed the block) to the opportunity's publication. A batch holding several blocks makes the
later blocks' figures an upper bound.

Thread-safety: the loop thread updates plain ints and dicts and observes the histogram (which
locks); the scrape thread only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from mesh.protocol.header import HEADER_SIZE, TIMESTAMP_OFFSET

#: Seconds: from 1 ms (the seeds' target is 50 ms) to 10 s.
DETECT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BLOCK_END = 5  # BlockEnd's TLV type


def first_block_end_ns(data: np.ndarray, offsets: np.ndarray, count: int) -> int:
    """Header time of the batch's first ``BlockEnd`` frame (frame ``i`` is
    ``data[offsets[i]:offsets[i + 1]]``), or 0 when it has none."""
    if count <= 0:
        return 0
    starts = offsets[:count]
    long_enough = (offsets[1:count + 1] - starts) > HEADER_SIZE
    hits = np.flatnonzero(long_enough & (data[np.minimum(starts + HEADER_SIZE, len(data) - 1)] == _BLOCK_END))
    if not len(hits):
        return 0
    at = int(starts[hits[0]]) + TIMESTAMP_OFFSET
    return int.from_bytes(data[at:at + 8].tobytes(), "little")


class StrategyMetrics:
    """The strategy's counters and its detection-latency histogram.

    Parameters
    ----------
    node : str
        The ``node`` label.
    registry : CollectorRegistry or None
        The node's metrics registry (None: nothing is served, values are still kept).
    counts : callable
        Returns the node's ``withheld`` and ``deferred`` counts and its ``pools`` and ``cycles``.
    strategy_ids : tuple of int
        Strategies exported from the start (at 0), so a silent one shows as silent.
    """

    def __init__(self, node: str, registry: CollectorRegistry | None,
                 counts: Callable[[], dict[str, int]], strategy_ids: tuple[int, ...] = ()) -> None:
        self.node = node
        self.counts = counts
        self.opportunities = dict.fromkeys(strategy_ids, 0)
        self.predicted_usd_q8 = dict.fromkeys(strategy_ids, 0)
        #: Header time of the price update the current evaluation runs on (0: unknown).
        self.update_ns = 0
        self.detect_family = Histogram("alphapulse_strategy_detect_seconds",
                                       "Price update (BlockEnd in the ring) to opportunity published",
                                       ["node"], registry=None, buckets=DETECT_BUCKETS)
        self.detect = self.detect_family.labels(node)
        if registry is not None:
            registry.register(self)
            registry.register(self.detect_family)

    def batch(self, data: np.ndarray, offsets: np.ndarray, count: int) -> None:
        """Note the price-update time of a ring batch about to be applied."""
        self.update_ns = first_block_end_ns(data, offsets, count)

    def published(self, strategy_id: int, profit_usd_q8: int, now_ns: int) -> None:
        """Count one published opportunity; observe its detection latency."""
        self.opportunities[strategy_id] = self.opportunities.get(strategy_id, 0) + 1
        self.predicted_usd_q8[strategy_id] = self.predicted_usd_q8.get(strategy_id, 0) + profit_usd_q8
        if self.update_ns:
            self.detect.observe(max(0, now_ns - self.update_ns) / 1e9)

    def collect(self) -> Iterator[Metric]:
        """Yield the counters and gauges (scrape thread)."""
        node = self.node
        opps = CounterMetricFamily("alphapulse_strategy_opportunities", "Opportunities published",
                                   labels=["node", "strategy"])
        usd = CounterMetricFamily("alphapulse_strategy_predicted_profit_usd",
                                  "Net profit of the published opportunities as sized, USD",
                                  labels=["node", "strategy"])
        for sid, n in list(self.opportunities.items()):
            opps.add_metric([node, str(sid)], n)
            usd.add_metric([node, str(sid)], max(0, self.predicted_usd_q8.get(sid, 0)) / 1e8)
        yield from (opps, usd)
        counts = self.counts()
        for name, doc in (("withheld", "Opportunities withheld by a stop"),
                          ("deferred", "Candidates deferred by the pass budget")):
            c = CounterMetricFamily(f"alphapulse_strategy_{name}", doc, labels=["node"])
            c.add_metric([node], counts[name])
            yield c
        for name in ("pools", "cycles"):
            g = GaugeMetricFamily(f"alphapulse_strategy_{name}", f"{name.capitalize()} known",
                                  labels=["node"])
            g.add_metric([node], counts[name])
            yield g
