"""P&L, drawdown and per-trade VaR in integers; the final-result filter."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from mesh.protocol import ExecutionResult
from mesh.protocol.constants import ExecutionStatus
from nodes.risk.errors import BadRiskInput
from nodes.risk.metrics import PnL, RiskCollector
from nodes.risk.results import FinalResults
from nodes.risk.rules import RiskRule


def test_cumulative_pnl_and_maximum_drawdown():
    p = PnL()
    for x in (50, -30, 40, -100, 20):
        p.book(x)
    assert p.total_q8 == -20
    assert p.peak_q8 == 60
    assert p.drawdown_q8 == 80
    assert p.max_drawdown_q8 == 100  # 60 -> -40


def test_drawdown_counts_from_zero_when_the_first_trade_loses():
    p = PnL()
    p.book(-7)
    assert p.max_drawdown_q8 == 7


def test_var_is_the_kth_worst_trade_of_the_window():
    p = PnL(var_window=100)
    for x in range(1, 101):  # losses -1 .. -100
        p.book(-x)
    assert p.var_q8() == 96  # fifth worst of 100
    small = PnL()
    for x in (5, -3, 8, -9, 1):
        small.book(x)
    assert small.var_q8() == 9  # ceil(5 x 5 %) = 1: the worst


def test_var_window_keeps_the_latest_trades_and_gains_give_zero():
    p = PnL(var_window=3)
    for x in (-1000, 4, 5, 6):
        p.book(x)
    assert list(p.trades) == [4, 5, 6]
    assert p.var_q8() == 0
    assert PnL().var_q8() == 0


def test_non_trades_move_pnl_but_not_the_var_window():
    p = PnL()
    p.book(-5, trade=False)
    assert p.total_q8 == -5 and not p.trades


def test_final_results_count_once_and_submitted_never():
    f = FinalResults(capacity=2)
    S = ExecutionStatus
    assert not f.admit(ExecutionResult(opportunity_id=1, status=S.SUBMITTED))
    assert f.admit(ExecutionResult(opportunity_id=1, status=S.INCLUDED))
    assert not f.admit(ExecutionResult(opportunity_id=1, status=S.INCLUDED))
    assert f.duplicates == 1
    assert f.admit(ExecutionResult(opportunity_id=0, status=S.REVERTED))
    assert f.admit(ExecutionResult(opportunity_id=0, status=S.REVERTED))  # 0: no id
    f.admit(ExecutionResult(opportunity_id=2, status=S.INCLUDED))
    f.admit(ExecutionResult(opportunity_id=3, status=S.INCLUDED))
    assert 1 not in f.seen  # the oldest id is forgotten beyond the capacity


def test_unknown_status_is_bad_input():
    with pytest.raises(BadRiskInput) as info:
        FinalResults().admit(ExecutionResult(status=99))
    assert info.value.kind == "bad_status"


def test_collector_exports_trips_per_rule_results_and_gauges():
    registry = CollectorRegistry(auto_describe=False)
    trips: Counter[int] = Counter({RiskRule.VOLATILITY: 3})
    results: Counter[str] = Counter({"included": 2})
    registry.register(RiskCollector("risk", trips, results, lambda: {"var95_usd": 1.5},
                                    lambda: {RiskRule.GAS_PRICE: True}))
    text = generate_latest(registry).decode()
    assert 'alphapulse_risk_trips_total{node="risk",rule="volatility"} 3.0' in text
    assert 'alphapulse_risk_trips_total{node="risk",rule="daily_loss"} 0.0' in text
    assert 'alphapulse_risk_breaker_tripped{node="risk",rule="gas_price"} 1.0' in text
    assert 'alphapulse_risk_breaker_tripped{node="risk",rule="volatility"} 0.0' in text
    assert 'alphapulse_risk_results_total{node="risk",status="included"} 2.0' in text
    assert 'alphapulse_risk_var95_usd{node="risk"} 1.5' in text
