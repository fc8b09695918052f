"""Each breaker tripped through the node (subprocess, harness): results and opportunities over
ZeroMQ, block ends, gas prices and pool prices through a market-data ring.

Every test first feeds input just inside the limit, then the input that crosses it: frames
are handled in order, so an alert from the inside input would be the first one collected.
"""

from __future__ import annotations

from mesh.protocol import (
    ArbitrageOpportunity,
    BlockEnd,
    EmergencyStop,
    ExecutionResult,
    GasPrice,
    Heartbeat,
    PoolSwap,
    PoolSync,
    RiskAlert,
)
from mesh.protocol.constants import AlertAction, ExecutionStatus, Severity, StopReason
from nodes.risk import RiskRule
from nodes.risk.rules import I64_MAX
from nodes.runtime.testing import NodeHarness
from tests.nodes.risk.harness import RiskHarness

S = ExecutionStatus
USD = 10**8
GWEI = 10**9
TOKEN_A, TOKEN_B = b"\xaa" * 20, b"\xbb" * 20
POOL_V2, POOL_V3 = b"\x01" * 20, b"\x03" * 20
QUIET = {"breakers.consecutive_failures.enabled": False,
         "breakers.failure_rate.enabled": False}


def _result(oid: int, status: S = S.INCLUDED, usd_q8: int = 0) -> ExecutionResult:
    return ExecutionResult(opportunity_id=oid, status=status, realized_profit_usd_q8=usd_q8,
                           strategy_id=5)


def _opportunity(oid: int, token: bytes, amount_in: int) -> ArbitrageOpportunity:
    return ArbitrageOpportunity(amount_in=amount_in, opportunity_id=oid, strategy_id=3,
                                pools=(POOL_V2,), tokens=(token, token), pool_kinds=(1,),
                                hop_fee_ppm=(3000,))


def _block(n: int, base_fee_wei: int = GWEI) -> list:
    return [BlockEnd(block_number=n, next_base_fee_wei=base_fee_wei),
            GasPrice(block_number=n, base_fee_gwei=-(-base_fee_wei // GWEI))]


def _settled(h: NodeHarness, frames: int) -> None:
    """Wait for a beat that counts ``frames`` in: anything they caused went out before it."""
    h.wait_for(Heartbeat, where=lambda hb: hb.frames_in >= frames)


def test_daily_loss_books_final_results_once_and_latches_a_loss_limit_stop():
    with RiskHarness(settings={**QUIET, "breakers.daily_loss.limit_usd": 10}) as h:
        h.feed(_result(1, usd_q8=-6 * USD))
        h.feed(_result(1, usd_q8=-6 * USD))  # the same opportunity again: booked once
        h.feed(_result(2, S.SUBMITTED, usd_q8=-50 * USD))  # not final: not booked
        h.feed(_result(2, S.REVERTED, usd_q8=-4 * USD))  # -10 USD: at the limit, inside
        h.feed(_result(3, usd_q8=-1))
        alert = h.wait_for(RiskAlert)[0]
        assert alert.rule == RiskRule.DAILY_LOSS
        assert (alert.observed, alert.threshold) == (-10 * USD - 1, -10 * USD)
        assert alert.action == AlertAction.EMERGENCY_STOP and alert.severity == Severity.CRITICAL
        stop = h.wait_for(EmergencyStop, where=lambda s: s.latched)[0]
        assert stop.reason_code == StopReason.LOSS_LIMIT
        assert h.metric("alphapulse_risk_results_total", status="duplicate") == 1
        assert h.metric("alphapulse_risk_results_total", status="submitted") == 1
        assert h.metric("alphapulse_risk_daily_pnl_usd") == -10.00000001
        assert h.metric("alphapulse_risk_trips_total", rule="daily_loss") == 1
        h.assert_contract()


def test_failure_rate_above_ten_percent_of_twenty_latches_an_error_rate_stop():
    settings = {"breakers.consecutive_failures.enabled": False}
    with RiskHarness(settings=settings) as h:
        for oid in range(1, 19):
            h.feed(_result(oid))
        h.feed(_result(19, S.REVERTED))
        h.feed(_result(20, S.DROPPED))  # 2 of 20: 10 %, not above
        h.feed(_result(21, S.SUBMIT_FAILED))
        alert = h.wait_for(RiskAlert)[0]
        assert alert.rule == RiskRule.FAILURE_RATE
        assert (alert.observed, alert.threshold) == (1500, 1000)
        assert alert.strategy_id == 5
        stop = h.wait_for(EmergencyStop, where=lambda s: s.latched)[0]
        assert stop.reason_code == StopReason.ERROR_RATE
        assert h.metric("alphapulse_risk_failure_rate_bps") == 1500


def test_oversized_opportunity_raises_one_alert_per_crossing_without_a_stop():
    settings = {f"breakers.trade_size.max_per_token.0x{TOKEN_A.hex()}": 1000,
                "breakers.trade_size.default_max": 50}
    with RiskHarness(settings=settings) as h:
        h.feed(_opportunity(1, TOKEN_A, 1000))  # at the maximum: inside
        h.feed(_opportunity(2, TOKEN_A, 1001))
        h.feed(_opportunity(3, TOKEN_A, 5000))  # still beyond: no second alert
        h.feed(_opportunity(4, TOKEN_B, 2**100))  # the default's limit, saturated in i64
        first, second = h.wait_for(RiskAlert, count=2)
        assert first.rule == RiskRule.TRADE_SIZE
        assert (first.observed, first.threshold, first.strategy_id) == (1001, 1000, 3)
        assert first.action == AlertAction.NONE and first.severity == Severity.WARNING
        assert "opportunity 2" in first.message
        assert (second.observed, second.threshold) == (I64_MAX, 50)
        _settled(h, 4)
        assert len(h.produced(RiskAlert)) == 2
        assert h.produced(EmergencyStop) == []
        assert h.metric("alphapulse_risk_trips_total", rule="trade_size") == 2
        h.assert_contract()


def test_gas_ceiling_throttles_when_the_base_fee_crosses_up_and_informs_when_back():
    with RiskHarness(settings={"breakers.gas_price.max_base_fee_gwei": 50}) as h:
        h.feed_ring(*_block(1, 50 * GWEI))  # at the ceiling: inside
        h.feed_ring(*_block(2, 50 * GWEI + 1))
        h.feed_ring(*_block(3, 80 * GWEI))
        h.feed_ring(*_block(4, 40 * GWEI))
        h.feed_ring(GasPrice(block_number=5, base_fee_gwei=60))  # a GasPrice on its own
        up, down, again = h.wait_for(RiskAlert, count=3)
        assert up.rule == RiskRule.GAS_PRICE
        assert (up.observed, up.threshold) == (50 * GWEI + 1, 50 * GWEI)  # BlockEnd's wei
        assert up.action == AlertAction.THROTTLE and up.severity == Severity.WARNING
        assert (down.action, down.severity, down.observed) == \
            (AlertAction.NONE, Severity.INFO, 40 * GWEI)
        assert again.action == AlertAction.THROTTLE and again.observed == 60 * GWEI
        assert h.produced(EmergencyStop) == []
        assert h.metric("alphapulse_risk_trips_total", rule="gas_price") == 2
        assert h.metric("alphapulse_risk_breaker_tripped", rule="gas_price") == 1
        assert h.metric("alphapulse_risk_base_fee_gwei") == 60.0
        h.assert_contract()


def test_volatility_trips_on_a_v2_and_a_v3_pool_moving_beyond_the_threshold():
    settings = {"breakers.volatility.max_move_bps": 500, "breakers.volatility.blocks": 3}
    with RiskHarness(settings=settings) as h:
        h.feed_ring(PoolSync(reserve0=10**6, reserve1=10**6, pool_address=POOL_V2))
        h.feed_ring(PoolSwap(sqrt_price_x96_after=2**96, pool_address=POOL_V3))
        h.feed_ring(*_block(1))
        h.feed_ring(PoolSync(reserve0=10**6, reserve1=1_050_000, pool_address=POOL_V2))
        h.feed_ring(*_block(2))  # exactly 5 %: inside
        h.feed_ring(PoolSync(reserve0=10**6, reserve1=1_050_001, pool_address=POOL_V2))
        h.feed_ring(*_block(3))
        v2 = h.wait_for(RiskAlert)[0]
        assert v2.rule == RiskRule.VOLATILITY and "0x01010101" in v2.message
        assert (v2.observed, v2.threshold, v2.action) == (500, 500, AlertAction.NONE)
        h.feed_ring(PoolSwap(sqrt_price_x96_after=2**96 * 103 // 100, pool_address=POOL_V3))
        h.feed_ring(*_block(4))  # price x 1.0609
        v3 = h.wait_for(RiskAlert, count=2)[1]
        assert "0x03030303" in v3.message and 600 <= v3.observed <= 609
        assert h.metric("alphapulse_risk_trips_total", rule="volatility") == 2


def test_risk_metrics_from_results():
    with RiskHarness(settings=QUIET) as h:
        outcomes = [(S.INCLUDED, 5), (S.REVERTED, -2), (S.REJECTED, 0), (S.INCLUDED, 1),
                    (S.DROPPED, -10)]
        for oid, (status, usd) in enumerate(outcomes, start=1):
            h.feed(_result(oid, status, usd * USD))
        _settled(h, len(outcomes))
        assert h.metric("alphapulse_risk_realized_pnl_usd") == -6.0
        assert h.metric("alphapulse_risk_drawdown_usd") == 11.0
        assert h.metric("alphapulse_risk_max_drawdown_usd") == 11.0  # peak 5, then -6
        assert h.metric("alphapulse_risk_var95_usd") == 10.0  # worst of 4 trades
        assert h.metric("alphapulse_risk_var_trades") == 4  # the rejection is no trade
        assert h.metric("alphapulse_risk_results_total", status="included") == 2
        assert h.metric("alphapulse_risk_results_total", status="rejected") == 1


def test_bad_input_is_counted_by_kind_and_the_node_keeps_judging():
    with RiskHarness(settings={"breakers.gas_price.max_base_fee_gwei": 1}) as h:
        h.feed(ExecutionResult(status=99))
        h.feed(RiskAlert(action=9))
        _settled(h, 2)
        h.feed_ring(PoolSwap(sqrt_price_x96_after=1, pool_address=POOL_V3))
        h.feed_ring_raw(b"\x00" * 32 + bytes([BlockEnd.TLV_TYPE]) + b"\x00" * 40)
        h.feed_ring(*_block(1, 2 * GWEI))
        h.wait_for(RiskAlert, where=lambda a: a.rule == RiskRule.GAS_PRICE)
        assert h.metric("alphapulse_errors_total", kind="bad_status") == 1
        assert h.metric("alphapulse_errors_total", kind="bad_action") == 1
        assert h.metric("alphapulse_errors_total", kind="bad_price") == 1
        assert h.metric("alphapulse_errors_total", kind="bad_magic") == 1
        assert h.produced(EmergencyStop) == []
        assert h.stop() == 0
