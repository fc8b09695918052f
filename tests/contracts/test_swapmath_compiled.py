"""The compiled V3 swap (contracts.swapmath.compiled and its u256 / compiled_libs kernels) equals
the pure-Python reference to the unit, reverts and unknown ticks included, and the real pools."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numba import njit

from contracts.swapmath import compiled, compiled_libs, libs, u256
from contracts.swapmath.pools import SwapResult, TicksUnknown, V3Pool, v3_amount_out, v3_swap
from contracts.v3math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick
from tests.contracts.test_swapmath import _cases, _chain_swap, _fund, _v3

SPACINGS = {100: 1, 500: 10, 3000: 60, 10000: 200}
EDGES = (0, 1, 2, 3, 10**6, 2**64 - 1, 2**64, 2**96, 2**128 - 1, 2**128, 2**160 - 1, 2**255,
         2**256 - 2, 2**256 - 1)
CODES = {text: code for code, text in enumerate(compiled_libs.REASONS)}


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """``("ok", fn(*args))`` or the exception's type name and text."""
    try:
        return "ok", fn(*args)
    except (libs.SwapReverted, TicksUnknown) as exc:
        return type(exc).__name__, str(exc)


# --- u256 and FullMath ---------------------------------------------------------------------------

def _operand(rng: random.Random) -> int:
    return rng.choice(EDGES) if rng.random() < 0.2 else rng.getrandbits(rng.randint(1, 256))


def _ref_code(fn: Callable[..., int], *args: int) -> tuple[int, int | None]:
    kind, value = outcome(fn, *args)
    return (0, value) if kind == "ok" else (CODES[value], None)


def test_mul_div_and_rounding_up_equal_python_ints_and_revert_alike():
    rng = random.Random(11)
    for _ in range(6000):
        a, b, d = _operand(rng), _operand(rng), _operand(rng)
        pick = rng.random()
        if pick < 0.3 and a * b:  # denominators near the quotient's edge
            d = max(1, a * b // rng.choice((1, 2**255, 2**256 - 1, 2**256)) + rng.randint(-2, 2))
            d %= 2**256
        elif pick < 0.4:  # denominators near a numerator
            d = max(0, rng.choice((a, b)) + rng.randint(-2, 2)) % 2**256
        args = (u256.from_int(a), u256.from_int(b), u256.from_int(d))
        for ref, fn in ((libs.mul_div, u256.mul_div), (libs.mul_div_rounding_up, u256.mul_div_rounding_up)):
            code, value = fn(*args)
            assert (code, u256.to_int(value) if code == 0 else None) == _ref_code(ref, a, b, d), (ref, a, b, d)


def test_two_digit_by_one_digit_divisions_equal_python_ints():
    rng = random.Random(10)
    for _ in range(5000):
        d = rng.choice((1, 2, 2**63, 2**64 - 1, rng.getrandbits(rng.randint(1, 64)) or 1))
        u1, u0 = rng.randrange(d), rng.getrandbits(64)
        q, r = u256.divlu(np.uint64(u1), np.uint64(u0), np.uint64(d))
        assert (int(q), int(r)) == divmod(u1 << 64 | u0, d)
        if d >> 63:  # normalized: the reciprocal path
            v = np.uint64(u256.reciprocal(np.uint64(d)))
            assert int(v) == (2**128 - 1) // d - 2**64
            assert tuple(map(int, _div_2by1(np.uint64(u1), np.uint64(u0), np.uint64(d), v))) == divmod(u1 << 64 | u0, d)


@njit(cache=True)
def _div_2by1(u1, u0, d, v):
    return u256.div_2by1(u1, u0, d, v)


def test_div_rounding_up_and_floor_equal_python_ints():
    rng = random.Random(12)
    for _ in range(3000):
        x, y = _operand(rng), _operand(rng)
        if rng.random() < 0.3:
            y = max(0, x + rng.randint(-2, 2)) % 2**256
        got = u256.to_int(u256.div_rounding_up(u256.from_int(x), u256.from_int(y)))
        assert got == libs.div_rounding_up(x, y)
        if y:
            assert u256.to_int(u256.div_floor(u256.from_int(x), u256.from_int(y))) == x // y


def test_limbs_round_trip_signed_and_unsigned():
    for value in (0, 1, 2**64, 2**255 - 1, 2**256 - 1):
        assert u256.to_int(u256.from_int(value)) == value
    for value in (-1, -(2**255), -(2**64) - 7):
        assert u256.to_int(u256.from_int(value), signed=True) == value


# --- TickMath, SqrtPriceMath, SwapMath -----------------------------------------------------------

def test_tick_math_equals_the_reference_at_and_between_every_kind_of_tick():
    rng = random.Random(13)
    ticks = [MIN_TICK, MIN_TICK + 1, -1, 0, 1, MAX_TICK - 1, MAX_TICK,
             *(rng.randint(MIN_TICK, MAX_TICK) for _ in range(1500))]
    for tick in ticks:
        ratio = sqrt_ratio_at_tick(tick)
        assert u256.to_int(compiled_libs.sqrt_ratio_at_tick(tick)) == ratio
        for price in (ratio, ratio - 1, ratio + rng.randrange(1, 2**40)):
            expected = outcome(libs.tick_at_sqrt_ratio, price)
            code, tick_got = compiled_libs.tick_at_sqrt_ratio(u256.from_int(price))
            if expected[0] == "ok":
                assert (code, tick_got) == (0, expected[1])
            else:
                assert code == compiled_libs.TICK_RANGE


def _price(rng: random.Random) -> int:
    return rng.choice((rng.randint(MIN_SQRT_RATIO, MAX_SQRT_RATIO), rng.getrandbits(rng.randint(1, 160)),
                       2**96 + rng.randint(-(10**20), 10**20), MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1))


def _liquidity(rng: random.Random) -> int:
    return rng.choice((rng.getrandbits(rng.randint(0, 128)), 2**128 - 1, 0, 1))


def _amount(rng: random.Random) -> int:
    return rng.choice((rng.getrandbits(rng.randint(0, 255)), 2**255 - 1, 0, 1,
                       rng.getrandbits(rng.randint(0, 100))))


def _same(ref: Callable[..., Any], args: tuple[Any, ...], got: tuple[Any, ...]) -> None:
    kind, value = outcome(ref, *args)
    if kind != "ok":
        assert got[0] == CODES[value], (value, got)
        return
    values = value if isinstance(value, tuple) else (value,)
    assert got[0] == 0 and tuple(u256.to_int(v) for v in got[1:]) == values


def test_sqrt_price_math_equals_the_reference_with_its_reverts():
    rng = random.Random(14)
    f = u256.from_int
    for _ in range(4000):
        a, b, liq, amount, up = _price(rng), _price(rng), _liquidity(rng), _amount(rng), rng.random() < 0.5
        _same(libs.amount0_delta, (a, b, liq, up), compiled_libs.amount0_delta(f(a), f(b), f(liq), up))
        _same(libs.amount1_delta, (a, b, liq, up), compiled_libs.amount1_delta(f(a), f(b), f(liq), up))
        _same(libs.next_sqrt_price_from_input, (a, liq, amount, up),
              compiled_libs.next_sqrt_price_from_input(f(a), f(liq), f(amount), up))
        _same(libs.next_sqrt_price_from_output, (a, liq, amount, up),
              compiled_libs.next_sqrt_price_from_output(f(a), f(liq), f(amount), up))


def test_compute_swap_step_equals_the_reference_exact_in_and_out():
    rng = random.Random(15)
    f = u256.from_int
    for _ in range(4000):
        a, b, liq = _price(rng), _price(rng), _liquidity(rng)
        remaining = _amount(rng) or 1
        exact_in = rng.random() < 0.5
        fee = rng.choice((*SPACINGS, 0, 999_999))
        _same(libs.compute_swap_step, (a, b, liq, remaining if exact_in else -remaining, fee),
              compiled_libs.compute_swap_step(f(a), f(b), f(liq), f(remaining), exact_in, fee))


# --- the swap ------------------------------------------------------------------------------------

def random_pool(rng: random.Random, *, positions: int | None = None, consistent: bool = True) -> V3Pool:
    """A pool with random positions (so every tick's net and the in-range liquidity agree), its
    price somewhere in its tick, and a random known word range around it."""
    fee = rng.choice(tuple(SPACINGS))
    spacing = SPACINGS[fee]
    lowest, highest = -(MAX_TICK // spacing) * spacing, MAX_TICK // spacing * spacing
    where = rng.random()
    if where < 0.1:
        tick = rng.randint(MIN_TICK, MIN_TICK + 3 * spacing)
    elif where < 0.2:
        tick = rng.randint(MAX_TICK - 3 * spacing, MAX_TICK - 1)
    else:
        tick = rng.randint(-200_000, 200_000)
    radius = spacing * rng.choice((3, 40, 600, 3000))
    net: dict[int, int] = {}
    gross: dict[int, int] = {}
    liquidity = 0
    for _ in range(rng.randint(0, 80) if positions is None else positions):
        lower = max(lowest, (tick + rng.randint(-radius, radius)) // spacing * spacing)
        upper = min(highest, lower + spacing * rng.randint(1, max(1, 2 * radius // spacing)))
        if lower >= upper:
            continue
        size = rng.choice((rng.getrandbits(rng.randint(1, 90)), rng.getrandbits(rng.randint(100, 119))))  # nets stay int128
        for t, sign in ((lower, 1), (upper, -1)):
            net[t] = net.get(t, 0) + sign * size
            gross[t] = gross.get(t, 0) + size
        if lower <= tick < upper:
            liquidity += size
    if not consistent:
        for t in rng.sample(sorted(net), min(3, len(net))):
            net[t] = rng.choice((-1, 1)) * rng.getrandbits(rng.randint(1, 127))
        if rng.random() < 0.3:
            liquidity = 2**128 - 1 - rng.getrandbits(rng.randint(1, 120))
    liquidity = min(liquidity, 2**128 - 1)
    ticks = tuple(sorted(t for t in net if gross[t]))
    word = tick // spacing >> 8
    if rng.random() < 0.3:
        word_lo, word_hi = MIN_TICK // spacing >> 8, MAX_TICK // spacing >> 8
    else:
        word_lo, word_hi = word - rng.randint(0, 6), word + rng.randint(0, 6)
    low, high = sqrt_ratio_at_tick(tick), sqrt_ratio_at_tick(tick + 1)
    price = rng.choice((low, low, rng.randrange(low, high), high - 1))
    return V3Pool("0x" + "ab" * 20, "0x" + "01" * 20, "0x" + "02" * 20, fee, spacing, price, tick,
                  liquidity, ticks, net, gross, word_lo, word_hi)


def random_swap(rng: random.Random, pool: V3Pool) -> tuple[bool, int, int | None]:
    """A direction, an amount (exact in > 0, exact out < 0) and a limit (None: the loosest)."""
    zero_for_one = rng.random() < 0.5
    depth = max(1, pool.liquidity * 2**96 // pool.sqrt_price_x96 if zero_for_one
                else pool.liquidity * pool.sqrt_price_x96 // 2**96)
    size = rng.choice((rng.randint(1, 1000), max(1, int(depth * 10 ** rng.uniform(-6, 0.5))),
                       rng.getrandbits(rng.randint(1, 255)), 2**255 - 1))
    amount = size if rng.random() < 0.6 else -min(size, 2**255)
    kind = rng.random()
    if kind < 0.5:
        limit = None
    elif kind < 0.85:
        step = -1 if zero_for_one else 1
        target = max(MIN_TICK, min(MAX_TICK, pool.tick + step * rng.randint(0, 30 * pool.tick_spacing)))
        limit = sqrt_ratio_at_tick(target) + rng.randint(-1000, 1000)
    else:
        limit = rng.choice((MIN_SQRT_RATIO, MIN_SQRT_RATIO + 1, MAX_SQRT_RATIO - 1, MAX_SQRT_RATIO,
                            pool.sqrt_price_x96, rng.getrandbits(160)))
    return zero_for_one, amount, limit


def assert_same_swap(pool: V3Pool, zero_for_one: bool, amount: int, limit: int | None) -> tuple[str, Any]:
    expected = outcome(v3_swap, pool, zero_for_one, amount, limit)
    got = outcome(compiled.swap, pool, zero_for_one, amount, limit)
    assert got == expected, (pool, zero_for_one, amount, limit)
    return expected


def test_random_swaps_equal_the_reference_exactly_with_reverts_and_unknown_ticks():
    rng = random.Random(16)
    kinds: dict[str, int] = {}
    for _ in range(700):
        pool = random_pool(rng, consistent=rng.random() < 0.9)
        for _ in range(5):
            kind, value = assert_same_swap(pool, *random_swap(rng, pool))
            key = kind if kind != "SwapReverted" else value.split(":")[0]
            kinds[key] = kinds.get(key, 0) + 1
    assert kinds["ok"] > 1500 and kinds["TicksUnknown"] > 50 and kinds["SPL"] > 50
    assert kinds.get("LS", 0) + kinds.get("LA", 0) > 0


def test_odd_states_equal_the_reference_with_their_reverts():
    """Prices unrelated to the tick (also below MIN_SQRT_RATIO), odd ticks, liquidity and fees:
    the same results and the same revert texts, tick-range ones included."""
    rng = random.Random(23)
    texts: set[str] = set()
    for _ in range(1000):
        pool = random_pool(rng, consistent=rng.random() < 0.7)
        fields = {f: getattr(pool, f) for f in V3Pool.__slots__}
        pick = rng.random()
        if pick < 0.4:
            fields["sqrt_price_x96"] = rng.getrandbits(rng.randint(1, 160)) or 1
        elif pick < 0.6:
            fields["tick"] = rng.randint(-(2**20), 2**20)
        elif pick < 0.8:
            fields["liquidity"] = rng.getrandbits(rng.randint(0, 128))
        else:
            fields["fee"] = rng.randint(0, 999_999)
        pool = V3Pool(**fields)
        kind, value = assert_same_swap(pool, *random_swap(rng, pool))
        if kind == "SwapReverted":
            texts.add(value.split(" ")[0] if value.startswith("sqrt price") else value)
    assert {"sqrt", "SPL", "LS"} <= texts


def _kernel(pool: V3Pool, zero_for_one: bool, amount: int, limit: int) -> tuple[Any, ...]:
    nets = [pool.net[t] for t in pool.ticks]
    return compiled.swap_kernel(
        u256.from_int(pool.sqrt_price_x96), pool.tick, u256.from_int(pool.liquidity), pool.fee,
        pool.tick_spacing, np.array(pool.ticks, dtype=np.int32),
        np.array([v & (2**64 - 1) for v in nets], dtype=np.uint64),
        np.array([v >> 64 for v in nets], dtype=np.int64), len(pool.ticks), pool.word_lo,
        pool.word_hi, zero_for_one, u256.from_int(amount), u256.from_int(limit))


def test_swaps_across_fifty_and_more_ticks_equal_the_reference():
    rng = random.Random(17)
    crossed = 0
    for _ in range(40):
        pool = random_pool(rng, positions=60)
        pool = V3Pool(**{**{f: getattr(pool, f) for f in V3Pool.__slots__},
                         "word_lo": MIN_TICK // pool.tick_spacing >> 8, "word_hi": MAX_TICK // pool.tick_spacing >> 8})
        for zero_for_one in (True, False):
            amount = rng.choice((2**200, -(2**150), 2**255 - 1))
            kind, _ = assert_same_swap(pool, zero_for_one, amount, None)
            limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
            *_, steps = _kernel(pool, zero_for_one, amount, limit)
            if kind == "ok" and steps >= 50:
                crossed += 1
    assert crossed >= 20


def test_swaps_from_the_price_bounds_equal_the_reference():
    rng = random.Random(18)
    for price, tick in ((MIN_SQRT_RATIO, MIN_TICK), (MAX_SQRT_RATIO, MAX_TICK),
                        (MAX_SQRT_RATIO - 1, MAX_TICK - 1)):
        base = random_pool(rng, positions=0)
        pool = V3Pool(**{**{f: getattr(base, f) for f in V3Pool.__slots__}, "sqrt_price_x96": price,
                         "tick": tick, "liquidity": 10**20, "word_lo": -(2**20), "word_hi": 2**20})
        for zero_for_one in (True, False):
            for amount in (1, 10**18, 2**255 - 1, -1, -(10**30), -(2**255)):
                assert_same_swap(pool, zero_for_one, amount, None)


def test_amounts_the_kernel_does_not_model_are_handed_to_the_reference():
    rng = random.Random(19)
    pool = random_pool(rng, positions=10)
    for amount in (2**255, 2**300, -(2**255) - 1, 0):
        assert outcome(compiled.swap, pool, True, amount) == outcome(v3_swap, pool, True, amount)
    fields = {f: getattr(pool, f) for f in V3Pool.__slots__}
    for odd in ({"tick_spacing": 2**40}, {"liquidity": 2**130}, {"fee": 10**6}):
        other = V3Pool(**{**fields, **odd})
        for amount in (10**6, -(10**6)):
            assert outcome(compiled.swap, other, False, amount) == outcome(v3_swap, other, False, amount)


def test_amount_out_equals_the_reference_and_is_zero_for_no_input():
    rng = random.Random(20)
    for _ in range(200):
        pool = random_pool(rng)
        zero_for_one, amount, _ = random_swap(rng, pool)
        assert outcome(compiled.amount_out, pool, zero_for_one, amount) == outcome(
            v3_amount_out, pool, zero_for_one, amount)
    assert compiled.amount_out(pool, True, 0) == 0


def test_kernel_reports_the_steps_and_the_word_it_lacked():
    rng = random.Random(21)
    pool = random_pool(rng, positions=0)
    pool = V3Pool(**{**{f: getattr(pool, f) for f in V3Pool.__slots__}, "liquidity": 10**18,
                     "tick": 0, "sqrt_price_x96": 2**96, "word_lo": -1, "word_hi": 0})
    status, *_, word, _, steps = _kernel(pool, True, 2**200, MIN_SQRT_RATIO + 1)
    assert (status, word, steps) == (compiled.TICKS_UNKNOWN, -2, 2)  # words 0 and -1, then -2
    with pytest.raises(TicksUnknown, match="bitmap word -2"):
        compiled.swap(pool, True, 2**200)


def test_a_result_is_a_swap_result_with_the_reference_types():
    pool = random_pool(random.Random(22), positions=20)
    result = compiled.swap(pool, False, 10**6)
    assert isinstance(result, SwapResult) and all(type(v) is int for v in (
        result.amount0, result.amount1, result.sqrt_price_x96, result.tick, result.liquidity))


# --- the real pools ------------------------------------------------------------------------------

@pytest.mark.chain
def test_compiled_swaps_equal_the_devnet_pools_across_ticks_limits_and_sizes(net):
    _fund(net, 10**50)
    block = net.chain.block_number()
    rng = random.Random(7)
    checked = 0
    for address, pool in _v3(net, tick_radius=None).items():
        cases = [*_cases(pool, rng), *((z, a, None) for z in (True, False) for a in (10**30, 10**38))]
        for zero_for_one, amount, limit in cases:
            expected = _chain_swap(net, address, zero_for_one, amount, limit, block)
            got = compiled.swap(pool, zero_for_one, amount, limit)
            assert (got.amount0, got.amount1) == expected, (pool.fee, zero_for_one, amount, limit)
            assert got == v3_swap(pool, zero_for_one, amount, limit)
            checked += 1
    assert checked == 6 * (46 + 4)
