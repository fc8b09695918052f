"""Breaker logic in-process: each trips beyond its limit, not at it, once per crossing."""

from __future__ import annotations

from mesh.protocol.constants import AlertAction, ExecutionStatus, Severity
from nodes.risk.breakers import (
    DAY_NS,
    ConsecutiveFailures,
    DailyLoss,
    Edge,
    FailureRate,
    GasCeiling,
    TradeSize,
)
from nodes.risk.rules import Action, RiskRule
from nodes.risk.settings import (
    ConsecutiveSettings,
    DailyLossSettings,
    FailureRateSettings,
    GasPriceSettings,
    TradeSizeSettings,
)

S = ExecutionStatus
NOON = 20_000 * DAY_NS + DAY_NS // 2


def test_edge_fires_once_per_crossing_and_rearms_inside():
    e = Edge()
    assert [e.update(b) for b in (False, True, True, False, True)] == \
        [False, True, False, False, True]
    e.rearm()
    assert e.update(True)


def test_consecutive_failures_trip_at_the_limit_and_an_inclusion_resets():
    b = ConsecutiveFailures(ConsecutiveSettings(limit=3))
    assert b.on_result(S.REVERTED) == [] and b.on_result(S.REJECTED) == []
    assert b.count == 1  # a rejection is no execution: it neither counts nor resets
    assert b.on_result(S.INCLUDED) == [] and b.count == 0
    b.on_result(S.DROPPED)
    b.on_result(S.SUBMIT_FAILED)
    (trip,) = b.on_result(S.REVERTED, strategy_id=4)
    assert (trip.rule, trip.observed, trip.threshold, trip.strategy_id) == \
        (RiskRule.CONSECUTIVE_FAILURES, 3, 3, 4)
    assert trip.stops and trip.alert_action == AlertAction.EMERGENCY_STOP
    assert trip.severity == Severity.CRITICAL
    assert b.on_result(S.REVERTED) == []  # still beyond: no second alert
    b.rearm()
    assert b.count == 0 and b.on_result(S.REVERTED) == []


def test_daily_loss_trips_below_minus_limit_and_not_at_it():
    b = DailyLoss(DailyLossSettings(limit_usd_q8=100))
    assert b.on_result(-60, NOON) == []
    assert b.on_result(-40, NOON) == []  # exactly -limit: inside
    (trip,) = b.on_result(-1, NOON + 1)
    assert (trip.rule, trip.observed, trip.threshold) == (RiskRule.DAILY_LOSS, -101, -100)
    assert b.on_result(-5, NOON + 2) == []
    assert b.today_q8(NOON) == -106


def test_daily_loss_resets_at_utc_midnight():
    b = DailyLoss(DailyLossSettings(limit_usd_q8=100))
    midnight = (NOON // DAY_NS + 1) * DAY_NS
    assert b.on_result(-150, NOON)
    assert b.today_q8(midnight - 1) == -150
    assert b.today_q8(midnight) == 0  # a new day with no result yet
    assert b.on_result(-100, midnight) == []  # the sum started again: -100 is inside
    assert b.on_result(-1, midnight + 5)  # and trips again the same new day


def test_daily_loss_rearms_when_profit_brings_it_back_inside():
    b = DailyLoss(DailyLossSettings(limit_usd_q8=100))
    assert b.on_result(-101, NOON)
    assert b.on_result(+2, NOON) == []
    assert b.on_result(-2, NOON)


def test_failure_rate_above_ten_percent_of_twenty_trips():
    b = FailureRate(FailureRateSettings(max_rate_bps=1000, window=20, min_sample=10))
    for status in [S.INCLUDED] * 18 + [S.REVERTED, S.DROPPED]:
        assert b.on_result(status) == []
    assert b.rate_bps() == 1000  # 2 of 20 = 10 %: not above
    (trip,) = b.on_result(S.SUBMIT_FAILED)  # an inclusion leaves the window: 3 of 20
    assert (trip.observed, trip.threshold) == (1500, 1000)
    assert trip.rule == RiskRule.FAILURE_RATE


def test_failure_rate_waits_for_the_minimum_sample_and_ignores_rejections():
    b = FailureRate(FailureRateSettings(max_rate_bps=1000, window=20, min_sample=10))
    for _ in range(9):
        assert b.on_result(S.REVERTED) == []
    for _ in range(50):
        assert b.on_result(S.REJECTED) == []
    assert len(b.window) == 9
    assert b.on_result(S.REVERTED)  # the tenth execution: 100 %


def test_failure_rate_rearms_with_an_empty_window():
    b = FailureRate(FailureRateSettings(max_rate_bps=0, window=2, min_sample=1))
    assert b.on_result(S.REVERTED)
    b.rearm()
    assert b.window.maxlen == 2 and b.failures == 0
    assert b.on_result(S.REVERTED)


def test_trade_size_per_token_limit_and_default():
    a, c, d = b"\xaa" * 20, b"\xcc" * 20, b"\xdd" * 20
    b = TradeSize(TradeSizeSettings(default_max=50, max_per_token={a: 1000}))
    assert b.on_opportunity(a, 1000) == []
    (trip,) = b.on_opportunity(a, 1001, strategy_id=2, opportunity_id=77)
    assert (trip.rule, trip.observed, trip.threshold, trip.strategy_id) == \
        (RiskRule.TRADE_SIZE, 1001, 1000, 2)
    assert "77" in trip.message and trip.alert_action == AlertAction.NONE
    assert not trip.stops and trip.severity == Severity.WARNING
    assert b.on_opportunity(a, 5000) == []  # same token still beyond: no spam
    assert b.on_opportunity(c, 51)  # other tokens have their own edge, with the default
    assert b.on_opportunity(a, 10) == [] and b.on_opportunity(a, 1001)  # re-armed inside
    none = TradeSize(TradeSizeSettings(default_max=0))
    assert none.on_opportunity(d, 2**127) == []  # 0: no limit


def test_gas_ceiling_pauses_on_the_way_up_and_informs_on_the_way_down():
    b = GasCeiling(GasPriceSettings(max_base_fee_wei=100))
    assert b.on_base_fee(100, block=1) == []
    (up,) = b.on_base_fee(101, block=2)
    assert up.alert_action == AlertAction.THROTTLE and up.severity == Severity.WARNING
    assert (up.observed, up.threshold) == (101, 100) and not up.stops
    assert b.on_base_fee(500, block=3) == []
    (down,) = b.on_base_fee(100, block=4)
    assert down.cleared and down.alert_action == AlertAction.NONE
    assert down.severity == Severity.INFO and not down.stops
    assert b.on_base_fee(99, block=5) == []


def test_a_stop_action_latches_only_on_the_crossing_not_on_the_clearing():
    b = GasCeiling(GasPriceSettings(max_base_fee_wei=1, action=Action.STOP))
    (up,) = b.on_base_fee(2)
    (down,) = b.on_base_fee(1)
    assert up.stops and not down.stops
