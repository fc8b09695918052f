"""The portfolio's Prometheus metrics, from a snapshot the loop thread replaces after each change.

All labelled ``node``; per strategy (``strategy``): ``alphapulse_portfolio_pnl_usd`` (realized,
net of gas), ``alphapulse_portfolio_gas_spent_wei``, ``alphapulse_portfolio_success_ratio``
(included per sent transaction), ``alphapulse_portfolio_results_total{status}``,
``alphapulse_portfolio_gas_overrun`` (gas used minus estimated, over mined results with a
detail); per strategy and token (``token``): ``alphapulse_portfolio_profit_shortfall``
(predicted minus realized profit, raw) and ``alphapulse_portfolio_gross_shortfall`` (predicted
gross minus what the chain paid, raw); node-wide: ``alphapulse_portfolio_booked_total``,
``alphapulse_portfolio_duplicates_total``, ``alphapulse_portfolio_pending``,
``alphapulse_portfolio_reconcile_checks_total``,
``alphapulse_portfolio_reconcile_mismatches_total``,
``alphapulse_portfolio_reconciled_block`` and, per ``token`` and ``holder``,
``alphapulse_portfolio_reconcile_difference`` (chain minus books, raw).

Thread-safety: the scrape thread only reads :attr:`PortfolioCollector.snapshot`, a reference
the loop thread replaces whole (never mutates).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from mesh.protocol.constants import ExecutionStatus


class PortfolioCollector:
    """A prometheus-client collector over the node's latest snapshot (a plain dict)."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.snapshot: dict[str, Any] = {"report": {"strategies": []}, "counters": {},
                                         "differences": {}}

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (scrape thread)."""
        snap, node = self.snapshot, self.node
        strategies = snap["report"]["strategies"]

        def per_strategy(name: str, doc: str, value: Any) -> GaugeMetricFamily:
            g = GaugeMetricFamily(name, doc, labels=["node", "strategy"])
            for s in strategies:
                g.add_metric([node, str(s["strategy_id"])], float(value(s)))
            return g

        yield per_strategy("alphapulse_portfolio_pnl_usd", "Realized P&L net of gas, USD",
                           lambda s: s["realized_profit_usd_q8"] / 1e8)
        yield per_strategy("alphapulse_portfolio_gas_spent_wei", "Gas paid, wei",
                           lambda s: s["gas_paid_wei"])
        yield per_strategy("alphapulse_portfolio_success_ratio",
                           "Included per sent transaction", lambda s: s["success_bps"] / 1e4)
        yield per_strategy("alphapulse_portfolio_gas_overrun", "Gas used minus estimated",
                           lambda s: s["gas_used"] - s["gas_estimate"])
        results = CounterMetricFamily("alphapulse_portfolio_results", "Final results booked",
                                      labels=["node", "strategy", "status"])
        for s in strategies:
            for status in ExecutionStatus:
                if status == ExecutionStatus.SUBMITTED:
                    continue
                key = {"INCLUDED": "succeeded"}.get(status.name, status.name.lower())
                results.add_metric([node, str(s["strategy_id"]), status.name.lower()],
                                   s[key])
        yield results
        for name, field, doc in (
                ("alphapulse_portfolio_profit_shortfall", "profit_shortfall",
                 "Predicted minus realized profit, raw units"),
                ("alphapulse_portfolio_gross_shortfall", "gross_shortfall",
                 "Predicted gross minus the chain-paid profit, raw units")):
            g = GaugeMetricFamily(name, doc, labels=["node", "strategy", "token"])
            for s in strategies:
                for token, t in s["tokens"].items():
                    g.add_metric([node, str(s["strategy_id"]), token], float(t[field]))
            yield g
        counters = snap["counters"]
        for name in ("booked", "duplicates", "reconcile_checks", "reconcile_mismatches"):
            c = CounterMetricFamily(f"alphapulse_portfolio_{name}", name.replace("_", " "),
                                    labels=["node"])
            c.add_metric([node], counters.get(name, 0))
            yield c
        for name in ("pending", "reconciled_block"):
            g = GaugeMetricFamily(f"alphapulse_portfolio_{name}", name.replace("_", " "),
                                  labels=["node"])
            g.add_metric([node], counters.get(name, 0))
            yield g
        diff = GaugeMetricFamily("alphapulse_portfolio_reconcile_difference",
                                 "Chain balance minus the books', raw units",
                                 labels=["node", "token", "holder"])
        for (token, holder), value in snap["differences"].items():
            diff.add_metric([node, token, holder], float(value))
        yield diff
