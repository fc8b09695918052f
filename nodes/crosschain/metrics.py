"""The crosschain node's Prometheus metrics, read at scrape time from its :class:`~nodes.crosschain.engine.Tally`.

All labelled ``node``: ``alphapulse_crosschain_signals_total{asset, direction}`` (signals
published), ``alphapulse_crosschain_evaluations_total`` (pair and direction evaluations),
``alphapulse_crosschain_skipped_total{reason}`` (pairs or directions not evaluated or not
published: ``stale_chain``, ``no_gas_price``, ``no_usd_price``, ``unchanged``, a swap's error
kind), ``alphapulse_crosschain_withheld_total`` (signals sized while a stop was latched) and the
gauge ``alphapulse_crosschain_best_profit_usd{asset, direction}``: the largest net profit sized
so far, USD. Malformed frames, unknown pools and namespaces, chain-id mismatches are the
runtime's ``alphapulse_errors_total{kind}``.

Thread-safety: the scrape thread copies the counters the loop thread updates (``list(d.items())``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from nodes.crosschain.engine import Tally


class CrossChainCollector:
    """A prometheus-client collector over a tally (the node's current one) and its withheld count."""

    def __init__(self, node: str, tally: Callable[[], Tally | None], withheld: Callable[[], int]) -> None:
        self.node = node
        self.tally = tally
        self.withheld = withheld

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (scrape thread)."""
        node, t = self.node, self.tally()
        signals = CounterMetricFamily("alphapulse_crosschain_signals", "Cross-chain signals published",
                                      labels=["node", "asset", "direction"])
        evaluations = CounterMetricFamily("alphapulse_crosschain_evaluations", "Pair and direction evaluations",
                                          labels=["node"])
        skipped = CounterMetricFamily("alphapulse_crosschain_skipped", "Pairs or directions skipped, by reason",
                                      labels=["node", "reason"])
        best = GaugeMetricFamily("alphapulse_crosschain_best_profit_usd", "Largest net profit sized, USD",
                                 labels=["node", "asset", "direction"])
        withheld = CounterMetricFamily("alphapulse_crosschain_withheld", "Signals withheld by a stop",
                                       labels=["node"])
        withheld.add_metric([node], self.withheld())
        if t is not None:
            for (asset, direction), n in list(t.signals.items()):
                signals.add_metric([node, asset, direction], n)
            evaluations.add_metric([node], t.evaluations)
            for reason, n in list(t.skipped.items()):
                skipped.add_metric([node, reason], n)
            for (asset, direction), q8 in list(t.best_usd_q8.items()):
                best.add_metric([node, asset, direction], q8 / 1e8)
        yield from (signals, evaluations, skipped, best, withheld)
