"""Risk metrics from booked results, and their Prometheus export.

Money stays integer (USD x 1e8) in :class:`PnL`; the exported gauges are USD floats.
Value at risk is of per-trade outcomes: FlashArbitrage trades are atomic flash loans, so the
executor holds no open position between blocks, and the risk is the distribution of what one
trade makes or loses (docs/risk.md).

Thread-safety: the node's loop thread updates everything; the scrape thread only reads.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from nodes.risk.rules import RiskRule

Q8 = 10**8
#: Confidence of the exported value at risk, percent.
VAR_CONFIDENCE_PCT = 95
_DAY_NS = 86_400 * 10**9


class PnL:
    """Cumulative realized USD P&L, that of the UTC day, its maximum drawdown and per-trade
    historical VaR.

    Parameters
    ----------
    var_window : int
        How many of the latest trades the value at risk is computed over.
    """

    def __init__(self, var_window: int = 250) -> None:
        self.total_q8 = 0
        self.peak_q8 = 0
        self.max_drawdown_q8 = 0
        self.trades: deque[int] = deque(maxlen=var_window)
        self.day = -1
        self.day_q8 = 0

    def book(self, profit_usd_q8: int, trade: bool = True, now_ns: int | None = None) -> None:
        """Add one final result's USD P&L (booked on the UTC day of ``now_ns``, default now);
        ``trade`` (an attempted execution) also enters the VaR window."""
        day = (time.time_ns() if now_ns is None else now_ns) // _DAY_NS
        if day != self.day:
            self.day, self.day_q8 = day, 0
        self.day_q8 += profit_usd_q8
        self.total_q8 += profit_usd_q8
        self.peak_q8 = max(self.peak_q8, self.total_q8)
        self.max_drawdown_q8 = max(self.max_drawdown_q8, self.drawdown_q8)
        if trade:
            self.trades.append(profit_usd_q8)

    def today_q8(self, now_ns: int) -> int:
        """Realized USD P&L x 1e8 of the UTC day of ``now_ns`` (0 on a day with no result)."""
        return self.day_q8 if now_ns // _DAY_NS == self.day else 0

    @property
    def drawdown_q8(self) -> int:
        """How far the cumulative P&L is below its peak (the peak starts at 0)."""
        return self.peak_q8 - self.total_q8

    def var_q8(self, confidence_pct: int = VAR_CONFIDENCE_PCT) -> int:
        """Historical value at risk of one trade: the loss not exceeded in ``confidence_pct``
        of the window's trades, as a non-negative amount (0 when even that outcome is a gain
        or there is no trade yet).

        The quantile is the ``k``-th worst trade, ``k = ceil(n x (100 - confidence) / 100)``
        (at least 1): over 20 trades the worst, over 100 the fifth worst.
        """
        n = len(self.trades)
        if not n:
            return 0
        k = max(1, -(-n * (100 - confidence_pct) // 100))
        return max(0, -sorted(self.trades)[k - 1])


class RiskCollector:
    """A prometheus-client collector of the risk node's metrics (names in docs/risk.md).

    Parameters
    ----------
    node : str
        The ``node`` label.
    trips : Counter
        Crossings per rule code (one per alert a breaker raised).
    results : Counter
        Execution results per final status name, plus ``submitted`` and ``duplicate``.
    gauges : callable
        Returns ``{name: value}`` of the plain gauges (each ``alphapulse_risk_<name>``).
    tripped : callable
        Returns ``{rule: bool}``: which breakers are beyond their limit now.
    """

    def __init__(self, node: str, trips: Counter[int], results: Counter[str],
                 gauges: Callable[[], dict[str, float]],
                 tripped: Callable[[], dict[int, bool]]) -> None:
        self.node = node
        self.trips = trips
        self.results = results
        self.gauges = gauges
        self.tripped = tripped

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (called by the scrape thread)."""
        trips = CounterMetricFamily("alphapulse_risk_trips", "Breaker trips (alerts), by rule",
                                    labels=["node", "rule"])
        tripped = GaugeMetricFamily("alphapulse_risk_breaker_tripped",
                                    "1 while a breaker is beyond its limit",
                                    labels=["node", "rule"])
        now = self.tripped()
        for rule in RiskRule:
            trips.add_metric([self.node, rule.name.lower()], self.trips.get(rule, 0))
            tripped.add_metric([self.node, rule.name.lower()], 1 if now.get(rule) else 0)
        results = CounterMetricFamily("alphapulse_risk_results",
                                      "Execution results by final status (submitted: not "
                                      "final; duplicate: booked before)",
                                      labels=["node", "status"])
        for status, n in list(self.results.items()):
            results.add_metric([self.node, status], n)
        yield from (trips, tripped, results)
        for name, value in self.gauges().items():
            g = GaugeMetricFamily(f"alphapulse_risk_{name}", name.replace("_", " "),
                                  labels=["node"])
            g.add_metric([self.node], value)
            yield g
