"""The risk node: circuit breakers, risk metrics and the emergency-stop latch.

It watches every ``ExecutionResult`` (final ones, each opportunity once:
:mod:`nodes.risk.results`), every ``ArbitrageOpportunity`` and the market-data rings
(``BlockEnd``/``GasPrice`` and pool prices). Six breakers (docs/risk.md), each configured in a
``[nodes.risk.breakers.<name>]`` table (:mod:`nodes.risk.settings`): consecutive failures,
daily realized loss, failure rate over a window, trade size, gas-price ceiling and market
volatility. A breaker that crosses its limit publishes one ``RiskAlert`` (rule codes:
:class:`RiskRule`) and, when its action is ``stop``, latches an emergency stop, which then
rides in every heartbeat until an operator resumes (``alphapulse resume``); a resume re-arms
the breakers that stop. A ``RiskAlert`` from another node whose action is ``EMERGENCY_STOP``
latches a stop too. Executors keep trading only while they hear this node's heartbeat (dead
man's switch) and it carries no latched stop. A stop it latches also sets this host's kill
flag first (``kill_flag = true``, the default), so executors on this host refuse to sign or
send microseconds after the decision; releasing the latch clears the flag.

Realized P&L, drawdown and per-trade value at risk are exported as Prometheus gauges
(:mod:`nodes.risk.metrics`); bad input is counted by kind and skipped.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from alphapulse.errors import AlphaPulseError
from mesh.protocol import (
    ArbitrageOpportunity,
    BlockEnd,
    ExecutionResult,
    GasPrice,
    Message,
    PoolInvalidation,
    PoolState,
    PoolSwap,
    PoolSync,
    RiskAlert,
    decode_frame,
)
from mesh.protocol.constants import (
    HEADER_SIZE,
    AlertAction,
    ExecutionStatus,
    RelayDomain,
    SourceType,
    StopReason,
)
from nodes.risk.breakers import (
    ATTEMPTED,
    ConsecutiveFailures,
    DailyLoss,
    FailureRate,
    GasCeiling,
    TradeSize,
)
from nodes.risk.errors import BadRiskInput
from nodes.risk.metrics import Q8, PnL, RiskCollector
from nodes.risk.results import FinalResults
from nodes.risk.rules import STOP_REASONS, Action, RiskRule, Trip, saturate
from nodes.risk.settings import parse_settings
from nodes.risk.volatility import Volatility, price_of
from nodes.runtime import ConfigKey, Contract, Node
from shm.kill_flag import KillFlag

if TYPE_CHECKING:
    from mesh.pubsub import Delivery
    from mesh.rings import RingBatch
    from nodes.runtime.runtime import NodeRuntime

__all__ = ["RULE_CONSECUTIVE_FAILURES", "RiskNode", "RiskRule"]

RULE_CONSECUTIVE_FAILURES = RiskRule.CONSECUTIVE_FAILURES
#: Market-data types the gas and the volatility breakers read from the rings (a frame's
#: first TLV is checked before the frame is decoded).
_GAS = frozenset(t.TLV_TYPE for t in (BlockEnd, GasPrice))
_POOLS = frozenset(t.TLV_TYPE for t in (BlockEnd, PoolSync, PoolSwap, PoolState,
                                        PoolInvalidation))
_ACTIONS = frozenset(int(a) for a in AlertAction)
_TEXT = 56  # RiskAlert.message bytes


class RiskNode(Node):
    """Circuit breakers over results, opportunities and market data; latches emergency stops."""

    CONTRACT = Contract(
        kind="risk",
        role="Circuit breakers, risk metrics and the emergency-stop latch; its heartbeat is "
             "the dead man's switch.",
        source=SourceType.RISK_MANAGER,
        consumes=(ExecutionResult, RiskAlert, ArbitrageOpportunity),
        produces=(RiskAlert,),
        reads=(RelayDomain.MARKET_DATA,),
        config={
            "max_consecutive_failures": ConfigKey(3, "failed executions in a row that trip "
                                                     "the consecutive-failures breaker (its "
                                                     "table's limit wins)"),
            "var_window": ConfigKey(250, "latest trades the value at risk is computed over"),
            "breakers": ConfigKey({}, "one table per breaker: [nodes.risk.breakers.<name>] "
                                      "(docs/risk.md)"),
            "kill_flag": ConfigKey(True, "set this host's kill flag when a stop latches (and "
                                         "clear it on resume): executors here halt at once"),
        },
    )

    def __init__(self, rt: NodeRuntime) -> None:
        super().__init__(rt)
        # Parsed here, in the runtime's constructor: a bad table fails before any socket opens.
        self.config = parse_settings(rt.settings, rt.name)
        if rt.settings.get("kill_flag", True):
            # opened here, before the runtime opens the rings: created later (in on_start), a
            # new flag left this process's ring readers unattached (seen, not yet explained)
            rt.stop_flag = KillFlag(rt.cfg.kill_flag_name)

    def on_start(self) -> None:
        """Build the breakers and register the risk metrics with the node's endpoint."""
        s = self.config
        self.consecutive = ConsecutiveFailures(s.consecutive_failures) \
            if s.consecutive_failures else None
        self.daily = DailyLoss(s.daily_loss) if s.daily_loss else None
        self.rate = FailureRate(s.failure_rate) if s.failure_rate else None
        self.size = TradeSize(s.trade_size) if s.trade_size else None
        self.gas = GasCeiling(s.gas_price) if s.gas_price else None
        self.volatility = Volatility(s.volatility) if s.volatility else None
        self.market = (_GAS if self.gas else frozenset()) | \
            (_POOLS if self.volatility else frozenset())
        self.breakers: list[Any] = [b for b in (self.consecutive, self.daily, self.rate,
                                                self.size, self.gas, self.volatility) if b]
        self.final = FinalResults()
        self.pnl = PnL(s.var_window)
        self.trips: Counter[int] = Counter()
        self.results: Counter[str] = Counter()
        self.alerts = 0
        self._latched = self.rt.latch.latched
        if self.rt.metrics is not None:
            self.rt.metrics.registry.register(RiskCollector(
                self.rt.name, self.trips, self.results, self._gauges, self._tripped))

    # -- inputs --------------------------------------------------------------------------------

    def on_frame(self, delivery: Delivery) -> None:
        """Fold the frame's results, opportunities and alerts in (bad ones counted, skipped)."""
        for tlv in delivery.frame.messages:
            try:
                if isinstance(tlv, ExecutionResult):
                    self._result(tlv)
                elif isinstance(tlv, ArbitrageOpportunity):
                    self._opportunity(tlv)
                elif isinstance(tlv, RiskAlert):
                    self._alert(tlv, delivery.topic.publisher)
            except BadRiskInput as exc:
                self.rt.stats.error(exc.kind)

    def on_ring_batch(self, batch: RingBatch) -> None:
        """Feed block ends, gas prices and pool prices to the gas and volatility breakers."""
        market = self.market
        if not market:
            return
        for raw in batch.frames():
            if len(raw) <= HEADER_SIZE or raw[HEADER_SIZE] not in market:
                continue
            try:
                tlvs = decode_frame(raw).messages
            except AlphaPulseError as exc:
                self.rt.stats.error(exc.kind)
                continue
            closes = any(isinstance(t, BlockEnd) for t in tlvs)
            for tlv in tlvs:
                try:
                    self._market(tlv, closes)
                except BadRiskInput as exc:
                    self.rt.stats.error(exc.kind)

    def on_tick(self, now_ns: int) -> int:
        """Re-arm the breakers that stop once an operator has resumed."""
        latched = self.rt.latch.latched
        if self._latched and not latched:
            for breaker in self.breakers:
                if breaker.settings.action is Action.STOP:
                    breaker.rearm()
        self._latched = latched
        return 0

    def _result(self, r: ExecutionResult) -> None:
        if not self.final.admit(r):
            self.results["submitted" if r.status == ExecutionStatus.SUBMITTED
                         else "duplicate"] += 1
            return
        self.results[ExecutionStatus(r.status).name.lower()] += 1
        sid, usd = r.strategy_id, r.realized_profit_usd_q8
        self.pnl.book(usd, trade=r.status in ATTEMPTED)
        trips: list[Trip] = []
        if self.consecutive is not None:
            trips += self.consecutive.on_result(r.status, sid)
        if self.rate is not None:
            trips += self.rate.on_result(r.status, sid)
        if self.daily is not None:
            trips += self.daily.on_result(usd, time.time_ns(), sid)
        for trip in trips:
            self._trip(trip)

    def _opportunity(self, o: ArbitrageOpportunity) -> None:
        if not o.tokens:
            raise BadRiskInput(f"opportunity {o.opportunity_id} has no token path",
                               "bad_opportunity")
        if self.size is not None:
            for trip in self.size.on_opportunity(o.tokens[0], o.amount_in, o.strategy_id,
                                                 o.opportunity_id):
                self._trip(trip)

    def _alert(self, alert: RiskAlert, publisher: str) -> None:
        if alert.action not in _ACTIONS:
            raise BadRiskInput(f"alert action {alert.action} is unknown", "bad_action")
        if alert.action == AlertAction.EMERGENCY_STOP:
            self.rt.raise_stop(f"alert from {publisher}: {alert.message}"[:64],
                               reason_code=StopReason.CIRCUIT_BREAKER)

    def _market(self, tlv: Message, closes: bool) -> None:
        vol, gas = self.volatility, self.gas
        trips: list[Trip] = []
        if isinstance(tlv, BlockEnd):
            if gas is not None:
                trips += gas.on_base_fee(tlv.next_base_fee_wei, tlv.block_number)
            if vol is not None:
                trips += vol.on_block_end(tlv.block_number)
        elif isinstance(tlv, GasPrice):
            if gas is not None and not closes:  # BlockEnd's exact wei wins when both come
                trips += gas.on_base_fee(tlv.base_fee_gwei * 10**9, tlv.block_number)
        elif vol is None:
            return
        elif isinstance(tlv, PoolInvalidation):
            vol.forget(tlv.pool_address)
        elif isinstance(tlv, PoolSync | PoolSwap | PoolState):
            price = price_of(tlv)
            restated = isinstance(tlv, PoolState)
            if price is not None:
                vol.on_price(tlv.pool_address, price, restated)
            elif restated:
                vol.forget(tlv.pool_address)
        for trip in trips:
            self._trip(trip)

    # -- outputs -------------------------------------------------------------------------------

    def _trip(self, trip: Trip) -> None:
        """Publish the alert of one trip (or clearing) and latch a stop if it says so."""
        if not trip.cleared:
            self.trips[trip.rule] += 1
        self.alerts += 1
        self.rt.publish(RiskAlert(
            alert_id=self.alerts, timestamp_ns=time.time_ns(), observed=saturate(trip.observed),
            threshold=saturate(trip.threshold), rule=int(trip.rule),
            strategy_id=trip.strategy_id & 0xFFFF, severity=trip.severity,
            action=trip.alert_action,
            message=trip.message.encode()[:_TEXT].decode(errors="ignore")))
        if trip.stops:
            self.rt.raise_stop(f"{trip.rule.name.lower()}: {trip.message}"[:64],
                               reason_code=STOP_REASONS[trip.rule])

    def _gauges(self) -> dict[str, float]:
        p = self.pnl
        out = {"realized_pnl_usd": p.total_q8 / Q8, "drawdown_usd": p.drawdown_q8 / Q8,
               "max_drawdown_usd": p.max_drawdown_q8 / Q8, "var95_usd": p.var_q8() / Q8,
               "var_trades": float(len(p.trades))}
        now = time.time_ns()
        out["daily_pnl_usd"] = (self.daily.today_q8(now) if self.daily is not None
                                else p.today_q8(now)) / Q8
        if self.rate is not None:
            out["failure_rate_bps"] = float(self.rate.rate_bps())
        if self.consecutive is not None:
            out["consecutive_failures"] = float(self.consecutive.count)
        if self.gas is not None:
            out["base_fee_gwei"] = self.gas.base_fee_wei / 1e9
        return out

    def _tripped(self) -> dict[int, bool]:
        return {b.rule: b.tripped for b in self.breakers}
