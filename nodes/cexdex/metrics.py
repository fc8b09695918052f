"""The cexdex node's Prometheus metrics, read at scrape time from its :class:`~nodes.cexdex.engine.Tally`.

All labelled ``node``: ``alphapulse_cexdex_signals_total{pair, direction}`` (signals published),
``alphapulse_cexdex_evaluations_total`` (pool and direction pairs evaluated),
``alphapulse_cexdex_withheld_total`` (signals sized while a stop was latched: not published),
``alphapulse_cexdex_skipped_total{reason}`` (evaluations without a gas or USD price) and the
gauge ``alphapulse_cexdex_spread_bps{pair, pool, direction}``: the last zero-size spread,
(CEX best − the pool's marginal price after its fee) / that price, before the taker fee and gas.

Thread-safety: the scrape thread copies the counters (``list(d.items())``) the loop thread
updates; a scrape may see one evaluation half counted, never a torn value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from nodes.cexdex.engine import Tally


class CexDexCollector:
    """A prometheus-client collector over a tally (the node's current one) and its withheld count."""

    def __init__(self, node: str, tally: Callable[[], Tally | None], withheld: Callable[[], int]) -> None:
        self.node = node
        self.tally = tally
        self.withheld = withheld

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (scrape thread)."""
        node, t = self.node, self.tally()
        signals = CounterMetricFamily("alphapulse_cexdex_signals", "CEX-DEX signals published",
                                      labels=["node", "pair", "direction"])
        evaluations = CounterMetricFamily("alphapulse_cexdex_evaluations", "Pool and direction evaluations",
                                          labels=["node"])
        skipped = CounterMetricFamily("alphapulse_cexdex_skipped", "Evaluations without a price",
                                      labels=["node", "reason"])
        spread = GaugeMetricFamily("alphapulse_cexdex_spread_bps", "Last zero-size spread before fees, bps",
                                   labels=["node", "pair", "pool", "direction"])
        withheld = CounterMetricFamily("alphapulse_cexdex_withheld", "Signals withheld by a stop",
                                       labels=["node"])
        withheld.add_metric([node], self.withheld())
        if t is not None:
            for (pair, direction), n in list(t.signals.items()):
                signals.add_metric([node, pair, direction], n)
            evaluations.add_metric([node], t.evaluations)
            for reason, n in list(t.skipped.items()):
                skipped.add_metric([node, reason], n)
            for (pair, pool, direction), bps in list(t.spread_bps.items()):
                spread.add_metric([node, pair, pool, direction], bps)
        yield from (signals, evaluations, skipped, spread, withheld)
