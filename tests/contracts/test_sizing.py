"""Exact sizing of arbitrage routes (contracts.swapmath.sizing) against brute force, the flash
fees against their Solidity formulas, and (chain) the sized routes against FlashArbitrage.

"Brute force" here is one of two things, named in each test: *every integer* input up to past
the point where the profit turns negative (small reserves), or a *scan*: a log grid of 400
inputs from 1 up to where the profit is negative again or the route infeasible (by doubling),
refined twice by 100 evenly spaced inputs between the best grid point's neighbours, and every
integer within 32 of the best.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from contracts.arbitrage import Trade, arbitrage_events, execute, quote
from contracts.pools import swap_v2, swap_v3
from contracts.simulator.state import read_market
from contracts.swapmath import cycles as reference
from contracts.swapmath.cycles import Cycle, Hop, cycle_out, enumerate_cycles
from contracts.swapmath.flash import (
    BadSizing,
    FlashFee,
    aave_flash_premium,
    v2_flash_fee,
    v3_flash_fee,
)
from contracts.swapmath.libs import SwapReverted, mul_div_rounding_up
from contracts.swapmath.pools import TicksUnknown, V2Pool, V3Pool, amount_out
from contracts.swapmath.sizing import (
    MAX_RESERVE,
    exact_amount_out,
    mobius,
    optimum,
    v2_least_input,
    v2_optimum,
)
from mesh.protocol.constants import FlashSource, PoolKind
from tests.contracts.sizing_markets import market, reverse, token

FEES: list[FlashFee | None] = [None, FlashFee.aave(5), FlashFee.aave(9), FlashFee.v2(30), FlashFee.v3(500),
                               FlashFee.v3(100)]


def _v2_chain(hops: list[tuple[int, int, int]], x: int) -> int:
    for reserve_in, reserve_out, fee_bps in hops:
        with_fee = x * (10000 - fee_bps)
        x = with_fee * reserve_out // (reserve_in * 10000 + with_fee)
    return x


def _premium(fee: FlashFee | None, x: int) -> int:
    return fee(x) if fee else 0


def _scan(profit: Callable[[int], int | None]) -> int:
    """The best profit of the brute-force scan described in the module docstring."""
    hi, positive = 2, False
    while hi < 2**112 and (p := profit(hi)) is not None and not (positive and p < 0):
        positive, hi = positive or p > 0, hi * 2
    grid = sorted({max(1, round(hi ** (i / 400))) for i in range(401)})
    values = {x: profit(x) for x in grid}
    for _ in range(2):
        best = max((x for x in values if values[x] is not None), key=lambda x: values[x], default=1)
        below = max((x for x in values if x < best), default=1)
        above = min((x for x in values if x > best), default=best)
        for k in range(101):
            x = below + (above - below) * k // 100
            values.setdefault(x, profit(x))
    best = max((x for x in values if values[x] is not None), key=lambda x: values[x], default=1)
    for x in range(max(1, best - 32), best + 33):
        values.setdefault(x, profit(x))
    return max((v for v in values.values() if v is not None), default=-1)


def _route_profit(pools, cycle: Cycle, fee: FlashFee | None) -> Callable[[int], int | None]:
    def profit(x: int) -> int | None:
        try:
            return cycle_out(pools, cycle, x) - x - _premium(fee, x)
        except (SwapReverted, TicksUnknown):
            return None
    return profit


# ------------------------------------------------------------------ flash fees


def test_aave_premium_is_percent_mul_half_up():
    rng = random.Random(1)
    for _ in range(2000):
        amount, bps = rng.randrange(0, 2**112), rng.randrange(0, 10001)
        assert aave_flash_premium(amount, bps) == (amount * bps + 5000) // 10000  # PercentageMath.percentMul
    assert aave_flash_premium(1000, 5) == 1  # 0.5 rounds up
    assert aave_flash_premium(999, 5) == 0


def _k_holds(reserve: int, lent: int, repaid: int, fee_bps: int) -> bool:
    return (reserve - lent + repaid) * 10000 - repaid * fee_bps >= reserve * 10000


def test_v2_flash_fee_is_the_least_repayment_the_pairs_k_check_accepts():
    """UniswapV2Pair.swap with the loan repaid: balance*10000 - in*fee >= reserve*10000 (the other
    reserve is unchanged), as FlashArbitrage.uniswapV2Call's ceil(x * 10000 / (10000 - fee))."""
    rng = random.Random(2)
    for _ in range(2000):
        reserve, fee_bps = rng.randrange(2, 2**100), rng.choice([0, 1, 5, 25, 30, 100, 9999])
        lent = rng.randrange(1, reserve)
        owed = lent + v2_flash_fee(lent, fee_bps)
        assert _k_holds(reserve, lent, owed, fee_bps) and not _k_holds(reserve, lent, owed - 1, fee_bps)
    assert v2_flash_fee(997, 30) == 3 and v2_flash_fee(1, 30) == 1


def test_v3_flash_fee_is_full_math_mul_div_rounding_up():
    rng = random.Random(3)
    for _ in range(2000):
        amount, fee = rng.randrange(0, 2**112), rng.choice([100, 500, 3000, 10000, rng.randrange(1, 10**6)])
        assert v3_flash_fee(amount, fee) == mul_div_rounding_up(amount, fee, 10**6)


@pytest.mark.parametrize("fee", [f for f in FEES if f is not None], ids=str)
def test_flash_fee_is_its_source_function_and_within_its_slack_below_the_rate(fee):
    function = {FlashSource.AAVE_V3: aave_flash_premium, FlashSource.UNISWAP_V2: v2_flash_fee,
                FlashSource.UNISWAP_V3: v3_flash_fee}[fee.source]
    rng = random.Random(4)
    for _ in range(500):
        x = rng.randrange(0, 2**112)
        assert fee(x) == function(x, fee.fee)
        assert fee.rate * x - fee.slack <= fee(x) < fee.rate * x + 1


@pytest.mark.parametrize("source, value", [(FlashSource.AAVE_V3, 10001), (FlashSource.UNISWAP_V2, 10000),
                                           (FlashSource.UNISWAP_V3, 10**6), (FlashSource.NONE, 0),
                                           (FlashSource.AAVE_V3, -1)])
def test_flash_fee_refuses_a_fee_its_source_cannot_charge(source, value):
    with pytest.raises(BadSizing):
        FlashFee(source, value)


# ------------------------------------------------------------------ V2 closed form


def _random_v2(rng: random.Random, hops: int, magnitude: tuple[float, float],
               prices: tuple[float, float] = (-3, 3), skew: tuple[float, float] = (-0.01, 0.08)
               ) -> list[tuple[int, int, int]]:
    """Reserves of a cycle whose prices (log10 range ``prices``) multiply to about 1, mispriced
    by ``skew`` (-1 % to 8 %); each pool holds about 10**``magnitude`` units of its input token's value."""
    price = [10 ** rng.uniform(*prices) for _ in range(hops)]
    value = [10 ** rng.uniform(*magnitude) for _ in range(hops)]
    mispriced = 1 + rng.uniform(*skew)
    out = []
    for i in range(hops):
        a, b = i, (i + 1) % hops
        reserve_in = max(1, int(value[i] / price[a]))
        rate = price[a] / price[b] * (mispriced if i == 0 else 1)
        out.append((reserve_in, max(1, int(reserve_in * rate)), rng.choice([0, 1, 5, 25, 30, 30, 100])))
    return out


@pytest.mark.parametrize("hops", [2, 3, 4])
def test_v2_closed_form_is_the_best_integer_of_every_integer_on_small_reserves(hops):
    """Brute force over every integer input; the answer is proven exact and under its bound."""
    rng = random.Random(10 + hops)
    profitable = 0
    for _ in range(40):
        route = _random_v2(rng, hops, (3, 4.3), prices=(-0.5, 0.5), skew=(-0.02, 0.15))
        fee = rng.choice(FEES)
        found = v2_optimum(route, fee, certify=4096)
        a, _, c = mobius(route)
        limit = a // c + 2  # the route pays less than A / C: no input beyond profits
        profits = [_v2_chain(route, x) - x - _premium(fee, x) for x in range(1, limit)]
        top = max(profits)
        if top <= 0:
            assert found is None
            continue
        profitable += 1
        assert found is not None and found.exact
        assert (found.profit, found.amount_in) == (top, profits.index(top) + 1)
        assert found.profit <= found.bound
    assert profitable >= 5


@pytest.mark.parametrize("hops", [2, 3, 4])
def test_v2_closed_form_is_within_a_tenth_of_a_percent_of_a_scan_across_magnitudes(hops):
    """Reserves from 1e3 to 1e30 units; brute force is the scan. The answer's profit is exact,
    no scan beats its proven bound, and it is within 0.1 % of the scan (in fact at least it)."""
    rng = random.Random(20 + hops)
    checked = 0
    for _ in range(12):
        route = _random_v2(rng, hops, (rng.uniform(3, 20), rng.uniform(20, 30)))
        fee = rng.choice(FEES)
        found = v2_optimum(route, fee)
        scan = _scan(lambda x, r=route, f=fee: _v2_chain(r, x) - x - _premium(f, x))
        if found is None:
            assert scan <= 0
            continue
        checked += 1
        assert found.profit == _v2_chain(route, found.amount_in) - found.amount_in - _premium(fee, found.amount_in)
        assert scan <= found.bound and found.profit <= found.bound
        assert found.profit * 1000 >= scan * 999
    assert checked >= 4


def test_v2_least_input_is_the_least_input_paying_the_output():
    rng = random.Random(30)
    for _ in range(300):
        route = _random_v2(rng, rng.choice([1, 2, 3]), (2, 12))
        x = rng.randrange(1, 10 * route[0][0])
        y = _v2_chain(route, x)
        least = v2_least_input(route, y)
        assert least is not None and least <= x and _v2_chain(route, least) >= y
        assert least == 0 or _v2_chain(route, least - 1) < y


def test_v2_input_stays_where_every_pair_can_hold_it():
    """Reserves near uint112: the real optimum would overflow the second pair, which reverts."""
    route = [(2**100, 2**111, 30), (2**111, 2**103, 30)]
    found = v2_optimum(route, None)
    assert found is not None
    mid = _v2_chain(route[:1], found.amount_in)
    assert found.amount_in + route[0][0] <= MAX_RESERVE and mid + route[1][0] <= MAX_RESERVE
    assert v2_optimum([(2**60, 2**60, 30), (2**60, 2**60, 30)], None) is None


def test_v2_route_of_one_or_five_hops_or_an_empty_pair_is_refused():
    with pytest.raises(BadSizing):
        v2_optimum([(10, 10, 30)], None)
    with pytest.raises(BadSizing):
        v2_optimum([(10, 10, 30)] * 5, None)
    with pytest.raises(BadSizing):
        v2_optimum([(10, 0, 30), (10, 10, 30)], None)
    with pytest.raises(BadSizing):
        v2_optimum([(10, 10, 10000), (10, 10, 30)], None)


# ------------------------------------------------------------------ mixed routes


@pytest.mark.parametrize("hops", [2, 3, 4])
def test_mixed_route_is_within_a_tenth_of_a_percent_of_a_scan(hops):
    """Random V2/V3 cycles (V3 pools with up to 30 random positions, swaps crossing many ticks)
    in the profitable direction; brute force is the scan. The answer's profit is exact.

    Routes whose profit is worth less than 10**4 raw units of one of their tokens are left out:
    there one unit lost to rounding at a single tick crossing moves the profit by more than the
    0.1 % claimed, and only visiting every plateau of the saw-tooth could find the best.
    """
    rng = random.Random(40 + hops)
    checked = 0
    while checked < 6:
        m = market(rng, hops)
        pools, cycle = m.pools, m.cycle
        if all(isinstance(p, V2Pool) for p in pools.values()):
            continue
        fee = rng.choice(FEES)
        found = optimum(pools, cycle, fee) or optimum(pools, cycle := reverse(cycle), fee)
        if found is None or m.coarse(cycle, found.profit):
            continue
        checked += 1
        profit = _route_profit(pools, cycle, fee)
        assert found.profit == profit(found.amount_in)
        assert found.profit * 1000 >= _scan(profit) * 999


def test_unprofitable_cycles_return_none():
    rng = random.Random(50)
    seen = 0
    for _ in range(30):
        m = market(rng, rng.choice([2, 3, 4]))
        pools, cycle = m.pools, m.cycle
        for route in (cycle, reverse(cycle)):
            if optimum(pools, route, FlashFee.aave(5)) is None:
                seen += 1
                profit = _route_profit(pools, route, FlashFee.aave(5))
                assert all((p := profit(2**k)) is None or p <= 0 for k in range(0, 100, 3))
    assert seen >= 30


def test_sizing_needs_fewer_exact_evaluations_than_the_reference_search(monkeypatch):
    """Route evaluations on the same cycles: ``optimum`` (counted by itself) against
    ``cycles.optimise`` (its calls of the first hop); the same or a better profit."""
    rng = random.Random(60)
    mine = theirs = 0
    calls: list[int] = []
    first: list[V2Pool | V3Pool] = []

    def counting(pool, zero_for_one, amount_in):
        if pool is first[0]:
            calls.append(1)
        return amount_out(pool, zero_for_one, amount_in)

    monkeypatch.setattr(reference, "amount_out", counting)
    compared = 0
    while compared < 12:
        m = market(rng, rng.choice([2, 3, 4]))
        pools, cycle = m.pools, m.cycle
        found = optimum(pools, cycle, FlashFee.aave(5))
        if found is None:
            continue
        first[:] = [pools[cycle.hops[0].pool]]
        calls.clear()
        best = reference.optimise(pools, cycle, FlashFee.aave(5))
        assert best is not None and found.profit * 1000 >= best.profit * 999
        mine, theirs, compared = mine + found.evaluations, theirs + len(calls), compared + 1
    assert mine * 2 < theirs


def test_custom_evaluator_prices_every_v3_hop():
    rng = random.Random(70)
    used: list[int] = []

    def evaluator(pool, zero_for_one, amount_in):
        used.append(amount_in)
        return exact_amount_out(pool, zero_for_one, amount_in)

    while True:
        m = market(rng, 3, v3_share=1.0)
        pools, cycle = m.pools, m.cycle
        found = optimum(pools, cycle, None, amount_out=evaluator)
        if found is not None:
            break
    assert used and found == optimum(pools, cycle, None)


def test_input_never_runs_past_the_known_ticks_nor_the_trade_amount():
    """A V3 pool whose known bitmap words end close to the price: every input the sizing
    returns prices without TicksUnknown, and no input is above 2**112 - 1."""
    rng = random.Random(80)
    bounded = 0
    for _ in range(40):
        m = market(rng, 2, v3_share=1.0)
        pools, cycle = m.pools, m.cycle
        narrow = {a: V3Pool(**{**{f: getattr(p, f) for f in V3Pool.__slots__},
                               "word_lo": (p.tick // p.tick_spacing >> 8), "word_hi": (p.tick // p.tick_spacing >> 8)})
                  for a, p in pools.items() if isinstance(p, V3Pool)}
        for route in (cycle, reverse(cycle)):
            found = optimum(narrow, route, None)
            if found is None:
                continue
            assert cycle_out(narrow, route, found.amount_in) == found.amount_out
            try:
                cycle_out(narrow, route, found.amount_in * 4)
            except TicksUnknown:
                bounded += 1
    assert bounded >= 3
    a, b = token(0), token(1)
    huge = {"p": V2Pool("p", a, b, 2**100, 2**110), "q": V2Pool("q", a, b, 2**100, 2**90)}
    found = optimum(huge, Cycle((Hop("p", a, b), Hop("q", b, a))), None, max_input=2**99)
    assert found is not None and found.amount_in <= 2**99


def test_route_of_five_hops_is_refused():
    a, b = token(0), token(1)
    pools = {str(i): V2Pool(str(i), a, b, 10**6, 10**6) for i in range(5)}
    hops = tuple(Hop(str(i), a if i % 2 == 0 else b, b if i % 2 == 0 else a) for i in range(5))
    with pytest.raises(BadSizing):
        optimum(pools, Cycle(hops), None)


# ------------------------------------------------------------------ devnet


def _dislocate(net, rng: random.Random) -> None:
    """Random swaps of 0.5 % to 6 % of each pool's depth, in random directions."""
    for address, pool in read_market(net.chain, net.manifest).pools.items():
        zero_for_one = rng.random() < 0.5
        token_in = pool.token0 if zero_for_one else pool.token1
        if isinstance(pool, V2Pool):
            depth = pool.reserve0 if zero_for_one else pool.reserve1
            swap_v2(net.chain, address, token_in, max(1, int(depth * rng.uniform(0.005, 0.06))))
        else:
            root = pool.sqrt_price_x96
            depth = pool.liquidity * 2**96 // root if zero_for_one else pool.liquidity * root // 2**96
            swap_v3(net.chain, net.manifest["periphery"], address, token_in, max(1, int(depth * rng.uniform(0.005, 0.06))))


@pytest.mark.chain
def test_sized_routes_quote_and_pay_exactly_what_the_sizing_predicts(net):
    """Random 2-, 3- and 4-hop routes over the devnet after random dislocating swaps, funded by
    Aave: the route's exact output for the sized input is FlashArbitrage's quote to the wei, and
    executing the trade pays exactly the predicted profit (the Arbitrage event)."""
    rng = random.Random(90)
    _dislocate(net, rng)
    state = read_market(net.chain, net.manifest)
    fee = FlashFee.aave(state.premium_bps)
    aave = net.manifest["aave_v3"]["pool"]
    cycles = enumerate_cycles(list(state.pools.values()), max_hops=4)
    rng.shuffle(cycles)
    done: dict[int, int] = {2: 0, 3: 0, 4: 0}
    for cycle in cycles:
        if done[len(cycle.hops)] >= 2:
            continue
        found = optimum(state.pools, cycle, fee)
        if found is None:
            continue
        kinds = [(h.pool, PoolKind.UNISWAP_V2 if isinstance(state.pools[h.pool], V2Pool) else PoolKind.UNISWAP_V3)
                 for h in cycle.hops]
        trade = net.book.lender(Trade(net.book.hops_along(cycle.start, kinds), found.amount_in, aave,
                                      FlashSource.AAVE_V3, 1, net.recipient))
        assert quote(net.chain, net.arb, trade) == found.amount_out
        snap = net.chain.snapshot()
        try:
            receipt = execute(net.chain, net.arb, trade, gas=5_000_000)
            (event,) = arbitrage_events(receipt, net.arb.address)
            assert (event.profit, found.premium) == (found.profit, fee(found.amount_in))
        finally:
            net.chain.revert_to(snap)
        done[len(cycle.hops)] += 1
    assert done == {2: 2, 3: 2, 4: 2}
