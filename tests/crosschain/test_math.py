"""contracts.swapmath.crosschain: exact legs, and the best input against brute force and the closed form."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.swapmath.crosschain import (
    Bridge,
    Leg,
    Legs,
    Route,
    evaluate,
    optimise,
    real_optimum,
    rescale,
)
from contracts.swapmath.flash import BadSizing
from contracts.swapmath.libs import SwapReverted
from contracts.swapmath.pools import TicksUnknown, V2Pool, v2_amount_out
from tests.contracts.sizing_markets import v3_pool

X, Q = "0x" + "11" * 20, "0x" + "22" * 20  # X < Q: X is token0 of every pool here


def v2(address: str, rx: int, rq: int, fee_bps: int = 30) -> V2Pool:
    """A pair of X (token0) against Q (token1)."""
    return V2Pool(address, X, Q, rx, rq, 0, fee_bps)


def leg(pool, xd: int = 18, qd: int = 18) -> Leg:
    """Buying X spends Q, token1: one_for_zero."""
    return Leg(pool, False, xd, qd)


def brute(route: Route, top: int) -> Legs | None:
    """Every input from 1 to ``top``: the best (ties: the smallest), None unless it profits."""
    best = None
    for q in range(1, top + 1):
        legs = evaluate(route, q)
        if best is None or legs.profit > best.profit:
            best = legs
    return best if best is not None and best.profit > 0 else None


def test_legs_are_exact_with_every_rounding_against_us():
    src, dst = v2("0xa", 1_000 * 10**18, 3_000_000 * 10**18), v2("0xb", 1_000 * 10**18, 3_100_000 * 10**18)
    bridge = Bridge(fixed_x=10**15, fee_ppm=500, latency_s=90, haircut_ppm_per_min=200)
    route = Route(leg(src), leg(dst), bridge, gas_source=7 * 10**18, gas_dest=3 * 10**18)
    q = 10_000 * 10**18 + 7
    x1 = v2_amount_out(q, src.reserve1, src.reserve0)
    fee = 10**15 + -(-x1 * 500 // 10**6)
    y = v2_amount_out(x1 - fee, dst.reserve0, dst.reserve1)
    cut = -(-y * 200 * 90 // (60 * 10**6))
    legs = evaluate(route, q)
    assert legs == Legs(q, x1, fee, x1 - fee, y, cut, y - cut, 10 * 10**18, y - cut - q - 10 * 10**18)
    assert legs.profit > 0


def test_decimals_convert_down_on_value_and_up_on_gas():
    assert rescale(1_999_999_999_999, 18, 6) == 1
    assert rescale(1_999_999_999_999, 18, 6, up=True) == 2
    assert rescale(5, 6, 18) == 5 * 10**12
    # X has 18 decimals on the source chain and 6 on the destination: the dust is lost.
    src = v2("0xa", 1_000 * 10**18, 3_000_000 * 10**6)
    dst = v2("0xb", 1_000 * 10**6, 3_100_000 * 10**6)
    route = Route(Leg(src, False, 18, 6), Leg(dst, False, 6, 6), Bridge(), 0, 1)
    legs = evaluate(route, 10**9)
    assert legs.x_arrived == legs.x_bought // 10**12
    assert legs.gas == 1


def test_bridge_cost_and_latency_turn_a_profit_into_none():
    src, dst = v2("0xa", 1_000 * 10**18, 3_000_000 * 10**18), v2("0xb", 1_000 * 10**18, 3_060_000 * 10**18)
    free = optimise(Route(leg(src), leg(dst), Bridge()))
    assert free is not None and free.profit > 0
    assert optimise(Route(leg(src), leg(dst), Bridge(fee_ppm=20_000))) is None  # a 2 % fee eats a 2 % spread
    assert optimise(Route(leg(src), leg(dst), Bridge(fixed_x=10 * 10**18))) is None  # 10 X fixed
    slow = Bridge(latency_s=3_600, haircut_ppm_per_min=500)  # 3 % over an hour
    assert optimise(Route(leg(src), leg(dst), slow)) is None
    gas = Route(leg(src), leg(dst), Bridge(), gas_source=free.profit, gas_dest=0)
    assert optimise(gas) is None  # gas equal to the best gross profit: nothing left
    some = optimise(Route(leg(src), leg(dst), Bridge(latency_s=60, haircut_ppm_per_min=100)))
    assert some is not None and 0 < some.profit < free.profit and some.haircut > 0


def test_the_reverse_direction_is_found_and_the_wrong_one_is_not():
    cheap, dear = v2("0xa", 1_000 * 10**18, 3_000_000 * 10**18), v2("0xb", 1_000 * 10**18, 3_100_000 * 10**18)
    forward = Route(leg(dear), leg(cheap), Bridge())
    assert optimise(forward) is None  # buying where X is dear
    back = optimise(forward.reverse())
    assert back is not None and back == optimise(Route(leg(cheap), leg(dear), Bridge()))


def test_bad_bridge_figures_are_refused():
    with pytest.raises(BadSizing):
        Bridge(fee_ppm=1_000_000)
    with pytest.raises(BadSizing):
        Bridge(fixed_x=-1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rx=st.integers(200, 3_000), price=st.integers(1, 5), skew_ppm=st.integers(-80_000, 80_000),
       fixed=st.integers(0, 20), fee_ppm=st.integers(0, 30_000), latency=st.integers(0, 600),
       haircut=st.integers(0, 1_000), gas=st.integers(0, 30), fee_bps=st.sampled_from([0, 5, 30, 100]),
       flip=st.booleans())
def test_small_v2_pools_equal_brute_force_both_ways(rx, price, skew_ppm, fixed, fee_ppm, latency, haircut, gas,
                                                    fee_bps, flip):
    a = v2("0xa", rx, rx * price, fee_bps)
    b = v2("0xb", rx, rx * price * (1_000_000 + skew_ppm) // 1_000_000, fee_bps)
    route = Route(leg(a, 6, 6), leg(b, 6, 6), Bridge(fixed, fee_ppm, latency, haircut), gas, gas // 2)
    if flip:
        route = route.reverse()
    want = brute(route, route.source.pool.reserve1)  # the best input is below the Q reserve
    got = optimise(route)
    assert ((got.profit, got.amount_in) if got else None) == ((want.profit, want.amount_in) if want else None)
    if got is not None:
        assert got == evaluate(route, got.amount_in)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), skew_ppm=st.integers(2_000, 60_000), fee_ppm=st.integers(0, 5_000),
       fixed_x=st.integers(0, 10**17), decimals=st.sampled_from([(18, 18), (18, 6), (6, 18), (8, 8)]))
def test_large_v2_pools_beat_every_integer_near_the_closed_form(seed, skew_ppm, fee_ppm, fixed_x, decimals):
    rng = random.Random(seed)
    xd, qd = decimals
    rx = int(10 ** rng.uniform(2, 5) * 10**xd)
    rq = rx * 3_000 * 10**qd // 10**xd
    a = v2("0xa", rx, rq)
    b = v2("0xb", rx * rng.randrange(1, 4), rq * rng.randrange(1, 4))
    b = V2Pool(b.address, X, Q, b.reserve0, b.reserve0 * 3_000 * 10**qd // 10**xd * (10**6 + skew_ppm) // 10**6)
    route = Route(leg(a, xd, qd), leg(b, xd, qd), Bridge(fixed_x * 10**xd // 10**18, fee_ppm, 30, 50))
    real = real_optimum(route)
    got = optimise(route)
    if real is None or real[1] < 1:
        assert got is None or got.profit <= max(1, real[1] if real else 1)
        return
    assert got is not None
    assert got.profit <= real[1] * (1 + 1e-9) + 1  # every rounding is down: no input beats the real curve
    # Over the flat top the exact profit is the real curve less the roundings' saw-tooth: a few
    # units of Q plus a few raw X at the destination's price. No integer beats the found one by more.
    tooth = 4 + 4 * -(-b.reserve1 // b.reserve0)
    centre = int(real[0])
    for q in [*range(max(1, centre - 300), centre + 300), *(int(centre * f) for f in (0.9, 0.99, 1.01, 1.1))]:
        assert evaluate(route, q).profit <= got.profit + tooth


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), skew=st.floats(0.005, 0.05), v3_both=st.booleans())
def test_v3_pools_beat_a_dense_grid(seed, skew, v3_both):
    rng = random.Random(seed)
    price = 3_000 * 10**6 / 10**18  # raw Q (6 decimals) per raw X (18 decimals)
    a = v3_pool(rng, "0xa", X, Q, price, 500 * 10**18)
    b = (v3_pool(rng, "0xb", X, Q, price * (1 + skew), 500 * 10**18) if v3_both
         else v2("0xb", 400 * 10**18, int(400 * 10**18 * price * (1 + skew))))
    route = Route(leg(a, 18, 6), leg(b, 18, 6), Bridge(10**14, 300, 60, 100), 5 * 10**6, 5 * 10**6)
    got = optimise(route)
    top = max(10**9, 4 * got.amount_in) if got else 10**13
    grid = [top * i // 400 for i in range(1, 401)]
    if got is not None:
        grid += list(range(max(1, got.amount_in - 50), got.amount_in + 50))
    best = None
    for q in grid:
        try:
            p = evaluate(route, q).profit
        except (SwapReverted, TicksUnknown):  # infeasible: the optimiser may not pick it either
            continue
        best = p if best is None else max(best, p)
    if got is None:
        assert best is None or best <= 0
    else:
        assert best is not None and got.profit + 4 >= best  # up to the roundings' saw-tooth (units of Q)
