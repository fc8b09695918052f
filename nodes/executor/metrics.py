"""The executor's Prometheus metrics, from every ``[ExecutionResult, ExecutionDetail]`` it publishes.

All labelled ``node``; per ``strategy``: ``alphapulse_executor_results_total{status}`` (every
frame: ``submitted`` when sent, then one final status: ``included``, ``reverted``, ``dropped``,
``submit_failed``, ``rejected``), and over the mined outcomes (included, reverted, dropped):
``alphapulse_executor_predicted_profit_usd`` and ``alphapulse_executor_realized_profit_usd``
(cumulative USD, net of gas), ``alphapulse_executor_gas_estimated_total`` and
``alphapulse_executor_gas_used_total``; node-wide: ``alphapulse_executor_gas_price_gwei`` (the
last mined transaction's effective price), ``alphapulse_executor_base_fee_gwei`` (the next
block's base fee it bids against), ``alphapulse_executor_in_flight``, and the histogram
``alphapulse_executor_latency_seconds{hop}``: ``opportunity_to_signed`` (the strategy's publish
time to the signature), ``signed_to_sent``, ``sent_to_included`` (until the receipt was seen)
and ``opportunity_to_included``.

Thread-safety: the loop thread updates plain dicts and observes the histogram (which locks);
the scrape thread copies the dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from mesh.protocol import ExecutionDetail, ExecutionResult, Message
from mesh.protocol.constants import ExecutionStatus

#: Seconds: 1 ms to 60 s (the seeds' execution target is 500 ms; inclusion waits for a block).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                   30.0, 60.0)
HOPS = ("opportunity_to_signed", "signed_to_sent", "sent_to_included", "opportunity_to_included")
MINED = frozenset({ExecutionStatus.INCLUDED, ExecutionStatus.REVERTED, ExecutionStatus.DROPPED})
_STATUSES = tuple(s.name.lower() for s in ExecutionStatus)


class ExecutorMetrics:
    """A prometheus-client collector over what the executor published.

    Parameters
    ----------
    node : str
        The ``node`` label.
    registry : CollectorRegistry or None
        The node's metrics registry (None: nothing is served, values are still kept).
    gauges : callable
        Returns ``{"base_fee_gwei": ..., "in_flight": ...}`` now.
    strategy_ids : sequence of int
        Strategies exported from the start (every status at 0).
    """

    def __init__(self, node: str, registry: CollectorRegistry | None,
                 gauges: Callable[[], dict[str, float]], strategy_ids: Sequence[int] = ()) -> None:
        self.node = node
        self.gauges = gauges
        self.results: dict[tuple[int, str], int] = {(sid, st): 0 for sid in strategy_ids
                                                     for st in _STATUSES}
        #: Per strategy: [predicted USD q8, realized USD q8, gas estimated, gas used].
        self.mined: dict[int, list[int]] = {sid: [0, 0, 0, 0] for sid in strategy_ids}
        self.gas_price_wei = 0
        self.latency_family = Histogram("alphapulse_executor_latency_seconds",
                                        "Opportunity to signed, sent and included", ["node", "hop"],
                                        registry=None, buckets=LATENCY_BUCKETS)
        self.latency = {hop: self.latency_family.labels(node, hop) for hop in HOPS}
        if registry is not None:
            registry.register(self)
            registry.register(self.latency_family)

    def published(self, messages: Sequence[Message], predicted_usd_q8: int) -> None:
        """Fold in one published result frame; ``predicted_usd_q8`` is its opportunity's
        net profit as the strategy sized it."""
        result = next((m for m in messages if isinstance(m, ExecutionResult)), None)
        detail = next((m for m in messages if isinstance(m, ExecutionDetail)), None)
        if result is None:
            return
        status = ExecutionStatus(result.status)
        key = (result.strategy_id, status.name.lower())
        self.results[key] = self.results.get(key, 0) + 1
        if detail is None:
            return
        if status == ExecutionStatus.SUBMITTED:
            self._observe("opportunity_to_signed", result.detected_ns, detail.signed_ns)
            self._observe("signed_to_sent", detail.signed_ns, detail.sent_ns)
        elif status in MINED:
            sums = self.mined.setdefault(result.strategy_id, [0, 0, 0, 0])
            sums[0] += predicted_usd_q8
            sums[1] += result.realized_profit_usd_q8
            sums[2] += detail.gas_estimate
            sums[3] += result.gas_used
            if result.effective_gas_price_wei:
                self.gas_price_wei = result.effective_gas_price_wei
            if status != ExecutionStatus.DROPPED:
                self._observe("sent_to_included", detail.sent_ns, detail.included_ns)
                self._observe("opportunity_to_included", result.detected_ns, detail.included_ns)

    def _observe(self, hop: str, start_ns: int, end_ns: int) -> None:
        if start_ns and end_ns:
            self.latency[hop].observe(max(0, end_ns - start_ns) / 1e9)

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (scrape thread)."""
        node = self.node
        results = CounterMetricFamily("alphapulse_executor_results", "Result frames by status",
                                      labels=["node", "strategy", "status"])
        for (sid, status), n in list(self.results.items()):
            results.add_metric([node, str(sid), status], n)
        yield results
        mined = list(self.mined.items())
        for i, (name, doc, kind) in enumerate((
                ("predicted_profit_usd", "Predicted net profit of mined trades, USD", GaugeMetricFamily),
                ("realized_profit_usd", "Realized net profit of mined trades, USD", GaugeMetricFamily),
                ("gas_estimated", "Gas estimated for mined trades", CounterMetricFamily),
                ("gas_used", "Gas used by mined trades", CounterMetricFamily))):
            family = kind(f"alphapulse_executor_{name}", doc, labels=["node", "strategy"])
            for sid, sums in mined:
                family.add_metric([node, str(sid)], sums[i] / 1e8 if i < 2 else sums[i])
            yield family
        values = {"gas_price_gwei": self.gas_price_wei / 1e9, **self.gauges()}
        for name, value in values.items():
            g = GaugeMetricFamily(f"alphapulse_executor_{name}", name.replace("_", " "),
                                  labels=["node"])
            g.add_metric([node], value)
            yield g
