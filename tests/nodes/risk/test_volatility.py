"""The volatility breaker in-process: exact prices, a window of N blocks, once per crossing."""

from __future__ import annotations

from fractions import Fraction

import pytest

from contracts.v3math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from mesh.protocol import PoolState, PoolSwap, PoolSync
from nodes.risk.errors import BadRiskInput
from nodes.risk.rules import RiskRule
from nodes.risk.settings import VolatilitySettings
from nodes.risk.volatility import Volatility, price_of, v3_price

P, Q = b"\x01" * 20, b"\x02" * 20


def _v(bps=500, blocks=3):
    return Volatility(VolatilitySettings(max_move_bps=bps, blocks=blocks))


def test_prices_are_exact_fractions_of_v2_reserves_and_v3_sqrt_prices():
    assert price_of(PoolSync(reserve0=3, reserve1=7)) == Fraction(7, 3)
    assert price_of(PoolSwap(sqrt_price_x96_after=2**96)) == 1
    assert price_of(PoolState(sqrt_price_x96=2**97, reserve0=1, reserve1=9)) == 4
    assert price_of(PoolState(reserve0=2, reserve1=9)) == Fraction(9, 2)
    assert price_of(PoolSwap()) is None  # a V2 swap sets no price
    assert price_of(PoolSync(reserve0=0, reserve1=5)) is None


def test_sqrt_price_out_of_range_is_bad_input():
    v3_price(MIN_SQRT_RATIO)
    for bad in (MIN_SQRT_RATIO - 1, MAX_SQRT_RATIO):
        with pytest.raises(BadRiskInput) as info:
            v3_price(bad)
        assert info.value.kind == "bad_price"


def test_a_move_just_at_the_threshold_does_not_trip_and_one_unit_more_does():
    v = _v(bps=500)
    v.on_price(P, Fraction(1_000_000, 1_000_000))
    assert v.on_block_end(1) == []
    v.on_price(P, Fraction(1_050_000, 1_000_000))  # exactly 5 %
    assert v.on_block_end(2) == []
    v.on_price(P, Fraction(1_050_001, 1_000_000))
    (trip,) = v.on_block_end(3)
    assert (trip.rule, trip.observed, trip.threshold) == (RiskRule.VOLATILITY, 500, 500)
    assert "0x01010101" in trip.message


def test_the_move_is_the_same_whichever_way_the_price_falls():
    v = _v(bps=500)
    v.on_price(P, Fraction(100))
    v.on_block_end(1)
    v.on_price(P, Fraction(100 * 10_000, 10_501))  # down: max / min - 1 = 5.01 %
    assert v.on_block_end(2)


def test_moves_spread_beyond_the_window_do_not_trip():
    v = _v(bps=500, blocks=2)
    for block, price in enumerate([100, 102, 104, 106, 108], start=1):  # 8 % in all
        v.on_price(P, Fraction(price))
        assert v.on_block_end(block) == [], block  # at most 4 % within two blocks
    v.on_price(P, Fraction(112))  # 112 / 106 (block 4, two blocks back): 5.7 %
    assert v.on_block_end(6)


def test_an_untouched_pool_keeps_its_price_in_force_across_the_window():
    v = _v(bps=500, blocks=3)
    v.on_price(P, Fraction(100))
    v.on_block_end(1)
    for block in (2, 3, 4, 5, 6):
        v.on_block_end(block)
    v.on_price(P, Fraction(106))  # against the price in force since block 1
    assert v.on_block_end(7)


def test_one_alert_per_crossing_rearmed_when_the_window_is_calm_again():
    v = _v(bps=500, blocks=2)
    v.on_price(P, Fraction(100))
    v.on_block_end(1)
    v.on_price(P, Fraction(110))
    assert v.on_block_end(2)
    v.on_price(P, Fraction(111))
    assert v.on_block_end(3) == []  # still a wide window: no second alert
    assert v.tripped
    assert v.on_block_end(5) == []  # calm: 110 -> 111 only
    assert not v.tripped
    v.on_price(P, Fraction(130))
    assert v.on_block_end(6)


def test_pools_are_judged_separately_and_a_restate_or_invalidation_forgets_history():
    v = _v(bps=500)
    v.on_price(P, Fraction(100))
    v.on_price(Q, Fraction(100))
    v.on_block_end(1)
    v.on_price(P, Fraction(200), restated=True)  # PoolState: a fresh start
    v.forget(Q)
    v.on_price(Q, Fraction(300))
    assert v.on_block_end(2) == []
    v.on_price(Q, Fraction(400))
    (trip,) = v.on_block_end(3)
    assert "0x02020202" in trip.message


def test_a_reorg_drops_the_abandoned_branch_prices():
    v = _v(bps=500, blocks=5)
    v.on_price(P, Fraction(100))
    v.on_block_end(10)
    v.on_price(P, Fraction(104))
    v.on_block_end(11)
    v.on_block_end(10)  # reorg back to block 10: the 104 of the abandoned 11 is gone
    assert [b for b, _ in v.history[P]] == [10]
    v.on_price(P, Fraction(96))  # 100 -> 96 is 4.2 % (with 104 it would be 8.3 %)
    assert v.on_block_end(11) == []


def test_the_last_price_of_a_block_counts():
    v = _v(bps=500)
    v.on_price(P, Fraction(100))
    v.on_block_end(1)
    v.on_price(P, Fraction(200))  # swapped up and back within block 2
    v.on_price(P, Fraction(101))
    assert v.on_block_end(2) == []
