"""The compiled V2 sizing (contracts.swapmath.fast_v2, compiled_v2) against the pure-Python
reference (sizing.v2_optimum_reference): every field of every answer equal, on thousands of random
cycles of 2, 3 and 4 hops, coarse and fine tokens, every flash lender, small trade limits and
reserves near uint112; and the kernel's division against Python integers."""

from __future__ import annotations

import random

import pytest

from contracts.swapmath import fast_v2
from contracts.swapmath.compiled_v2 import divmod_small
from contracts.swapmath.cycles import MAX_INPUT, Cycle, Hop
from contracts.swapmath.flash import FlashFee
from contracts.swapmath.pools import V2Pool
from contracts.swapmath.sizing import (
    CERTIFY,
    MAX_RESERVE,
    SCAN,
    mobius,
    optimum,
    v2_optimum,
    v2_optimum_reference,
)
from contracts.swapmath.u256 import from_int, to_int
from tests.contracts.sizing_markets import market, reverse


def _fee(rng: random.Random) -> FlashFee | None:
    return rng.choice([None, FlashFee.aave(rng.choice([0, 5, 9, 30, 10000])),
                       FlashFee.v2(rng.choice([0, 25, 30, 100, 9999])),
                       FlashFee.v3(rng.choice([0, 100, 500, 3000, 10000, 999999]))])


def _cycle(rng: random.Random, hops: int) -> list[tuple[int, int, int]]:
    """A cycle of ``hops`` pairs mispriced by -1 % to 8 %: raw prices from 1e-9 to 1e9 (coarse
    and fine tokens side by side) and depths from 1e2 to 1e32 units, clipped to uint112."""
    price = [10 ** rng.uniform(-9, 9) for _ in range(hops)]
    depth = 10 ** rng.uniform(2, 32)
    mispriced = 1 + rng.uniform(-0.01, 0.08)
    out = []
    for i in range(hops):
        value = depth * 10 ** rng.uniform(-1, 1)
        reserve_in = min(MAX_RESERVE, max(1, int(value / price[i])))
        rate = price[i] / price[(i + 1) % hops] * (mispriced if i == 0 else 1)
        reserve_out = min(MAX_RESERVE, max(1, int(reserve_in * rate)))
        out.append((reserve_in, reserve_out, rng.choice([0, 1, 5, 25, 30, 30, 100, 9000])))
    return out


@pytest.mark.parametrize("hops", [2, 3, 4])
def test_compiled_v2_sizing_is_the_reference_field_for_field(hops):
    """Random routes, fees, trade limits and visit budgets: equal answers (None or every field)."""
    rng = random.Random(100 + hops)
    profitable = exact = visits = modelled = 0
    for _ in range(1500):
        route = _cycle(rng, hops)
        fee = _fee(rng)
        options = {}
        if rng.random() < 0.2:
            options["max_input"] = rng.choice([0, 1, 10**3, 10**12, 10**18])
        if rng.random() < 0.2:
            options["certify"] = rng.choice([1, 2, 16, 4096])
        if rng.random() < 0.2:
            options["scan"] = rng.choice([0, 1, 16])
        want = v2_optimum_reference(route, fee, **options)
        assert v2_optimum(route, fee, **options) == want, (route, fee, options)
        profitable += want is not None
        exact += want is not None and want.exact
        visits += want is not None and want.evaluations > 40
        budget = {"scan": SCAN, "certify": CERTIFY, "max_input": MAX_INPUT, **options}
        modelled += want is not None and fast_v2.size(route, fee, **budget) is not fast_v2.UNMODELLED
    assert profitable >= 300 and exact >= 80 and visits >= 20, (profitable, exact, visits)
    assert modelled >= 0.9 * profitable  # the compiled path answered, not the reference behind it


def test_compiled_v2_sizing_matches_on_markets_of_decimals_and_prices():
    """The sizing tests' markets (tokens of 6, 8 and 18 decimals priced in USD), V2 pairs only,
    both directions, through ``optimum``."""
    rng = random.Random(110)
    compared = 0
    for _ in range(300):
        m = market(rng, rng.choice([2, 3, 4]), v3_share=0.0)
        for route in (m.cycle, reverse(m.cycle)):
            fee = _fee(rng)
            want = optimum(m.pools, route, fee, compiled=False)
            assert optimum(m.pools, route, fee) == want
            compared += want is not None
    assert compared >= 150


def test_compiled_v2_sizing_near_uint112_reserves_is_the_reference():
    """The real optimum overflows a later pair (the reference searches the feasible top) and the
    first pair leaves no room at all: the compiled path hands both to the reference."""
    cases = [[(2**100, 2**111, 30), (2**111, 2**103, 30)],
             [(MAX_RESERVE, 2**100, 30), (2**100, 2**101, 30)],
             [(2**60, 2**60, 30), (2**60, 2**60, 30)]]
    rng = random.Random(120)
    for _ in range(100):
        big = rng.randrange(2**100, MAX_RESERVE)
        cases.append([(rng.randrange(2**90, 2**104), big, 30), (big, rng.randrange(2**90, 2**111), 30)])
    for route in cases:
        for fee in (None, FlashFee.aave(5), FlashFee.v3(500)):
            assert v2_optimum(route, fee) == v2_optimum_reference(route, fee)


def test_fast_mobius_reduced_once_is_the_reference_reduced_every_hop():
    rng = random.Random(130)
    for _ in range(500):
        route = _cycle(rng, rng.choice([1, 2, 3, 4]))
        assert fast_v2.mobius(route) == mobius(route)


def test_compiled_sizing_leaves_unusual_budgets_to_the_reference():
    route = [(10**6, 10**6, 30), (10**6, 11 * 10**5, 30)]
    assert fast_v2.size(route, None, scan=4, certify=0, max_input=2**100) is fast_v2.UNMODELLED
    assert fast_v2.size(route, None, scan=-1, certify=512, max_input=2**100) is fast_v2.UNMODELLED
    assert v2_optimum(route, None, certify=0) == v2_optimum_reference(route, None, certify=0)


def test_kernel_division_is_floor_division_with_its_remainder_flag():
    """Numerators below 2**256, divisors below 2**127, quotients of every size (the float
    estimate's range and Knuth's beyond it), exact multiples and off-by-one remainders."""
    rng = random.Random(140)
    for _ in range(3000):
        den = rng.randrange(1, 2 ** rng.randrange(1, 128))
        q = rng.randrange(0, 2 ** rng.randrange(1, 256 - den.bit_length()))
        num = q * den + rng.choice([0, 1, den - 1, rng.randrange(den)])
        if num >= 2**256:
            continue
        quotient, inexact = divmod_small(from_int(num), from_int(den))
        assert (to_int(quotient), inexact) == (num // den, num % den != 0)


def test_optimum_sizes_v2_routes_through_the_compiled_path(monkeypatch):
    a, b = "0x" + "1" * 40, "0x" + "2" * 40
    pools = {"p": V2Pool("p", a, b, 10**24, 2 * 10**12), "q": V2Pool("q", a, b, 10**24, 21 * 10**11)}
    cycle = Cycle((Hop("q", a, b), Hop("p", b, a)))  # 5 % round trip: a coarse middle token
    calls = []
    size = fast_v2.size
    monkeypatch.setattr(fast_v2, "size", lambda *args, **kw: calls.append(1) or size(*args, **kw))
    found = optimum(pools, cycle, FlashFee.aave(5))
    assert calls == [1]
    assert found is not None and found == optimum(pools, cycle, FlashFee.aave(5), compiled=False)
    assert calls == [1]
