"""The CEX-DEX sizing against an independent brute force over every size, both directions."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from contracts.swapmath.libs import SwapReverted
from contracts.swapmath.pools import TicksUnknown, V2Pool, amount_out
from mesh.protocol.constants import CexDexDirection
from nodes.cexdex.sizing import Market, evaluate, min_input, screen, size
from tests.contracts.sizing_markets import v3_pool

BASE, QUOTE = "0x" + "0" * 39 + "1", "0x" + "0" * 39 + "2"
D0, D1 = CexDexDirection.BUY_DEX_SELL_CEX, CexDexDirection.BUY_CEX_SELL_DEX


# -- the independent reference ------------------------------------------------------------------

def _out(pool, zero_for_one: bool, x: int) -> int:
    try:
        return amount_out(pool, zero_for_one, x)
    except (SwapReverted, TicksUnknown):
        return -1


def _smallest_input(pool, zero_for_one: bool, need: int) -> int | None:
    """Doubling from 1, then plain bisection (no guess): the smallest input paying ``need``."""
    lo, hi = 0, 1
    while (got := _out(pool, zero_for_one, hi)) < need:
        if got < 0 or hi > 2**128:
            return None
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _out(pool, zero_for_one, mid) >= need:
            hi = mid
        else:
            lo = mid
    return hi


def _cex_notional(levels, quantity: int) -> int | None:
    """Level by level, in a form of its own: expand cumulative quantities."""
    total, cum = 0, []
    for price, qty in levels:
        total += qty
        cum.append((total, price))
    if quantity > total:
        return None
    notional, taken = 0, 0
    for upto, price in cum:
        part = min(upto, quantity) - taken
        if part <= 0:
            break
        notional += part * price
        taken += part
    return notional


def _ceil(a: int, b: int) -> int:
    return (a + b - 1) // b


def brute(m: Market, direction: CexDexDirection) -> tuple[int, list[int]] | None:
    """Best profit over every lot count, and the lot counts that reach it."""
    side = m.bids if direction == D0 else m.asks
    best, where = None, []
    quote_is_0 = m.pool.token0 == m.quote
    n = 1
    while True:
        q = n * m.lot_q8
        notional = _cex_notional(side, q)
        if notional is None:
            break
        fee = _ceil(notional * m.taker_fee_ppm * 10**m.quote_decimals, 10**22)
        if direction == D0:
            need = _ceil(q * 10**m.base_decimals, 10**8)
            x = _smallest_input(m.pool, quote_is_0, need)
            profit = None if x is None else \
                notional * 10**m.quote_decimals // 10**16 - fee - x - m.gas_cost
        else:
            out = _out(m.pool, not quote_is_0, q * 10**m.base_decimals // 10**8)
            profit = None if out < 0 else \
                out - _ceil(notional * 10**m.quote_decimals, 10**16) - fee - m.gas_cost
        if profit is not None:
            if best is None or profit > best:
                best, where = profit, [n]
            elif profit == best:
                where.append(n)
        n += 1
    return None if best is None else (best, where)


# -- markets ----------------------------------------------------------------------------------

def _book(rng: random.Random, price_q8: int, levels: int, lot: int, below: bool,
          most: int) -> list[tuple[int, int]]:
    out, p = [], price_q8
    for _ in range(levels):
        out.append((p, lot * rng.randint(1, most) + rng.randint(0, lot - 1)))
        p = p - rng.randint(1, price_q8 // 2000 + 1) if below else p + rng.randint(1, price_q8 // 2000 + 1)
    return out


def _market(rng: random.Random, *, v3: bool, skew: float, base_dec: int = 18, quote_dec: int = 6,
            lot: int | None = None, fee_ppm: int = 1000, gas: int = 0, depth: float = 20.0,
            most: int = 300) -> Market:
    """A pool at about 3000 quote per base holding about ``depth`` base, and a CEX book ``skew``
    away from it, each level up to ``most`` lots."""
    human = 3000.0 * rng.uniform(0.9, 1.1)
    base_first = rng.random() < 0.5
    t0, t1 = (BASE, QUOTE) if base_first else (QUOTE, BASE)
    raw_price = human * 10**quote_dec / 10**base_dec  # raw quote per raw base
    price = raw_price if base_first else 1 / raw_price
    depth_base = rng.uniform(depth / 4, depth) * 10**base_dec
    if v3:
        depth0 = depth_base if base_first else depth_base * raw_price
        pool = v3_pool(rng, "0x" + "ab" * 20, t0, t1, price, depth0)
    else:
        rb, rq = int(depth_base), int(depth_base * raw_price)
        pool = V2Pool("0x" + "ab" * 20, t0, t1, *((rb, rq) if base_first else (rq, rb)))
    lot = lot or rng.choice([10**5, 2 * 10**5, 10**6])
    mid = int(human * (1 + skew) * 10**8)
    bids = _book(rng, mid - mid // 5000, rng.randint(1, 6), lot, True, most)
    asks = _book(rng, mid + mid // 5000, rng.randint(1, 6), lot, False, most)
    return Market(pool, BASE, QUOTE, base_dec, quote_dec, bids, asks, fee_ppm, lot, gas)


def _check(m: Market, direction: CexDexDirection) -> None:
    expected = brute(m, direction)
    for scan_all in (0, 10**9):  # the search, then every size
        got = size(m, direction, scan_all=scan_all)
        if expected is None:
            assert got is None
            continue
        assert got is not None
        best, where = expected
        assert got.profit == best, (direction, scan_all)
        assert got.lots in where
        assert got.cex_quantity == got.lots * m.lot_q8
        assert got == evaluate(m, direction, got.lots)


# -- tests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
def test_v2_sizing_equals_the_brute_force_in_both_directions(seed):
    rng = random.Random(seed)
    m = _market(rng, v3=False, skew=rng.uniform(0.002, 0.03) * rng.choice([1, -1]),
                base_dec=rng.choice([18, 8, 6]), quote_dec=rng.choice([6, 18]),
                gas=rng.choice([0, 10**4, 10**6]))
    _check(m, D0)
    _check(m, D1)


@pytest.mark.parametrize("seed", range(4))
def test_v3_sizing_equals_the_brute_force_in_both_directions(seed):
    rng = random.Random(100 + seed)
    m = _market(rng, v3=True, skew=rng.uniform(0.003, 0.02) * rng.choice([1, -1]),
                lot=rng.choice([2 * 10**6, 5 * 10**6]), depth=40.0, most=30)
    _check(m, D0)
    _check(m, D1)


def test_a_book_dearer_than_the_pool_pays_buying_on_the_dex_only():
    rng = random.Random(7)
    m = _market(rng, v3=False, skew=0.01, lot=10**6)
    assert screen(m, D0) and not screen(m, D1)
    s = size(m, D0)
    assert s is not None and s.profit > 0
    cheap = size(m, D1)
    assert cheap is None or cheap.profit < 0


def test_the_cex_quantity_is_whole_lots_and_the_pool_pays_at_least_it():
    rng = random.Random(3)
    m = _market(rng, v3=False, skew=0.01, base_dec=6, lot=333_333)  # 6 decimals: q8 -> raw rounds
    s = size(m, D0)
    assert s is not None and s.cex_quantity % 333_333 == 0
    need = -(-s.cex_quantity * 10**6 // 10**8)  # rounded up: we must deliver every unit sold
    assert s.dex_amount_out >= need
    assert _smallest_input(m.pool, m.pool.token0 == QUOTE, need) == s.dex_amount_in
    m1 = replace(m, bids=m.asks, asks=[(p * 9 // 10, q) for p, q in m.bids])
    s1 = size(m1, D1)
    assert s1 is not None and s1.dex_amount_in == s1.cex_quantity * 10**6 // 10**8  # rounded down


def test_the_taker_fee_is_rounded_up_and_taken_from_the_profit():
    rng = random.Random(5)
    m = _market(rng, v3=False, skew=0.01, lot=10**6, fee_ppm=0)
    free = evaluate(m, D0, 3)
    charged = evaluate(replace(m, taker_fee_ppm=1000), D0, 3)
    assert free is not None and charged is not None
    fee = -(-free.cex_notional * 1000 * 10**6 // 10**22)
    assert charged.cex_fee == fee > 0 and charged.profit == free.profit - fee
    assert size(replace(m, taker_fee_ppm=30_000), D0) is None or size(replace(m, taker_fee_ppm=30_000), D0).profit < 0


def test_gas_lowers_the_profit_by_itself_and_keeps_the_size():
    rng = random.Random(9)
    m = _market(rng, v3=False, skew=0.01, lot=10**6)
    a, b = size(m, D0), size(replace(m, gas_cost=123_456), D0)
    assert a is not None and b is not None
    assert b.lots == a.lots and b.profit == a.profit - 123_456 and b.gas_cost == 123_456


def test_a_book_too_thin_for_one_lot_sizes_nothing():
    m = _market(random.Random(1), v3=False, skew=0.01, lot=10**6)
    thin = replace(m, bids=[(m.bids[0][0], 10**6 - 1)])
    assert size(thin, D0) is None
    quote_only = replace(m, bids=[m.bids[0]])
    s = size(quote_only, D0)
    assert s is not None and s.cex_price == m.bids[0][0] and s.cex_quantity <= m.bids[0][1]


def test_min_input_finds_the_smallest_input_whatever_the_guess():
    pool = V2Pool("0x" + "ab" * 20, BASE, QUOTE, 10**20, 3 * 10**11)
    for need in (1, 7, 10**6, 10**9, 10**11):
        x, out = min_input(pool, True, need)
        assert out >= need and pool.amount_out(True, x) == out
        assert x == 1 or pool.amount_out(True, x - 1) < need
    assert min_input(pool, True, 3 * 10**11) is None  # the whole reserve: no input pays it
