"""The exact best input of an arbitrage route of 2 to 4 hops, with few exact evaluations.

V2-only routes: closed form
---------------------------
A V2 hop pays ``floor(g * x * r_out / (10000 * r_in + g * x))`` with ``g = 10000 - fee_bps``.
Without the floor it is the Mobius transform ``x -> A x / (B + C x)`` with
``(A, B, C) = (g r_out, 10000 r_in, g)``, and hops compose as Mobius transforms do::

    (A1, B1, C1) then (A2, B2, C2)  =  (A1 A2, B1 B2, B2 C1 + C2 A1)

so the route pays ``out(x) = A x / (B + C x)`` exactly in integers. With a flash fee of rate ``f``
(``r = 1 + f``) the real profit ``out(x) - r x`` is concave, largest at
``x* = (sqrt(A B / r) - B) / C`` where it is ``P* = (sqrt(A) - sqrt(r B))**2 / C``, and positive
somewhere only when ``A > r B``. Every floor rounds the real output down and every lender rounds
its premium up (Aave: half up, at most 1/2 below ``f x``), so the exact profit of any integer input
is at most ``P_real(x) + slack``. That gives :func:`v2_optimum` two proofs at no search cost:

- ``bound = floor(P* + slack)``: no integer input earns more;
- once an input earning ``L`` is known, every input earning ``L`` or more lies where
  ``P_real(x) >= L - slack``, an interval (a quadratic's roots, in integers). When it holds at
  most ``certify`` integers they are all evaluated and the answer is *the* exact best input
  (``exact``); otherwise the input found is within ``bound - profit`` units of it.

Mixed routes: float start, integer Brent
----------------------------------------
Each pool is modelled as a Mobius transform in floats (a V3 pool by its virtual reserves at the
current price and in-range liquidity), whose composition gives a starting input; the exact profit
is then bracketed from there and narrowed by :func:`contracts.swapmath.search.maximise`
(parabolic steps, golden-section fallback, integer arithmetic), ending with a small scan.

Exactness and feasibility
-------------------------
Every profit compared is exact: V2 hops by ``getAmountOut`` in integers, V3 hops by
``amount_out`` (default: :func:`exact_amount_out`, the reference swap loop). An input is
infeasible, never guessed, when FlashArbitrage or a pool would revert on it: above the trade's
14-byte amount, a V2 pair whose reserve would pass ``uint112`` (``UniswapV2: OVERFLOW``), a V3 swap
that reverts, leaves the known ticks (:class:`TicksUnknown`) or stops at the price bound before
spending its input (FlashArbitrage's ``V3PartialFill``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from contracts.swapmath.cycles import MAX_INPUT, SCREEN, Cycle, Optimum, marginal_rate
from contracts.swapmath.flash import BadSizing, FlashFee
from contracts.swapmath.libs import FEE_DENOMINATOR, SwapReverted
from contracts.swapmath.pools import TicksUnknown, V2Pool, V3Pool, v3_swap
from contracts.swapmath.search import Counted, maximise

#: A V2 pair's reserves are uint112: a swap leaving more reverts (``UniswapV2: OVERFLOW``).
MAX_RESERVE = 2**112 - 1
#: The reference V2Pool is Uniswap V2: 997/1000, that is 30 bps.
V2_FEE_BPS = 30
BPS = 10_000
#: Integers scanned each side of the real optimum (V2) or of the narrowed input (mixed routes).
SCAN = 4
#: Most integers a V2 route evaluates to prove its input the exact best.
CERTIFY = 512
#: Mixed routes stop narrowing once the bracket is this fraction of the input.
REL_TOL = 1e-9

Pool = V2Pool | V3Pool
AmountOut = Callable[[Pool, bool, int], int]
#: A V2 hop for :func:`v2_optimum`: (reserve_in, reserve_out, fee_bps).
V2Hop = tuple[int, int, int]


@dataclass(slots=True, frozen=True)
class Sized(Optimum):
    """An :class:`~contracts.swapmath.cycles.Optimum` and how it was found.

    Attributes
    ----------
    evaluations : int
        Distinct inputs whose exact route output was computed.
    exact : bool
        Proven the best integer input (every other input earns less, or as much and is larger).
    bound : int | None
        Proven upper bound of any input's exact profit (V2-only routes), else None.
    """

    evaluations: int = 0
    exact: bool = False
    bound: int | None = None


def exact_amount_out(pool: Pool, zero_for_one: bool, amount_in: int) -> int:
    """The reference exact output, refusing (:class:`SwapReverted`) a V3 swap that stops at the
    price bound with input left over: FlashArbitrage reverts on it (``V3PartialFill``)."""
    if isinstance(pool, V2Pool):
        return pool.amount_out(zero_for_one, amount_in)
    if amount_in <= 0:
        return 0
    result = v3_swap(pool, zero_for_one, amount_in)
    if (result.amount0 if zero_for_one else result.amount1) != amount_in:
        raise SwapReverted(f"V3PartialFill: pool {pool.address} took less than {amount_in}")
    return result.amount_out(zero_for_one)


def _v2_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int) -> int:
    """UniswapV2Library.getAmountOut with the fee in bps; the pair's uint112 reserve check."""
    if reserve_in + amount_in > MAX_RESERVE:
        raise SwapReverted("UniswapV2: OVERFLOW")
    with_fee = amount_in * (BPS - fee_bps)
    return with_fee * reserve_out // (reserve_in * BPS + with_fee)


def _check_v2_hops(hops: Sequence[V2Hop]) -> None:
    if not 2 <= len(hops) <= 4:
        raise BadSizing(f"a route has 2 to 4 hops, got {len(hops)}")
    for reserve_in, reserve_out, fee_bps in hops:
        if not (0 < reserve_in <= MAX_RESERVE and 0 < reserve_out <= MAX_RESERVE):
            raise BadSizing(f"V2 reserves ({reserve_in}, {reserve_out}) outside [1, 2**112 - 1]")
        if not 0 <= fee_bps < BPS:
            raise BadSizing(f"V2 fee {fee_bps} bps outside [0, {BPS})")


def mobius(hops: Sequence[V2Hop]) -> tuple[int, int, int]:
    """``(A, B, C)`` with the route's unrounded output ``A x / (B + C x)`` (reduced by their gcd)."""
    a, b, c = 1, 1, 0
    for reserve_in, reserve_out, fee_bps in hops:
        g = BPS - fee_bps
        a, b, c = a * g * reserve_out, b * BPS * reserve_in, BPS * reserve_in * c + g * a
        k = math.gcd(a, b, c)
        a, b, c = a // k, b // k, c // k
    return a, b, c


def v2_optimum(hops: Sequence[V2Hop], fee: FlashFee | None = None, *, scan: int = SCAN,
               certify: int = CERTIFY, max_input: int = MAX_INPUT) -> Sized | None:
    """The best input of a V2-only route from its closed form (see the module docstring).

    Parameters
    ----------
    hops
        ``(reserve_in, reserve_out, fee_bps)`` of each pair in route order (30 bps is Uniswap
        V2's 997/1000: scaling both by 10 leaves every floor unchanged).
    fee
        The flash lender's charge, None for none (a fused V2 flash swap).
    scan
        Integers evaluated each side of the real optimum before the proof (widened while the
        best one is at the edge).
    certify
        Most integers evaluated to prove the input the exact best.
    max_input
        Largest input considered (FlashArbitrage's 14-byte amount).

    Returns
    -------
    Sized | None
        None when no input profits (proven when ``bound`` would be 0 or less).

    Raises
    ------
    BadSizing
        Not 2 to 4 hops, a reserve outside ``[1, 2**112 - 1]`` or a fee outside ``[0, 10000)``.
    """
    _check_v2_hops(hops)
    rate = Fraction(1) + (fee.rate if fee else 0)
    slack = fee.slack if fee else Fraction(0)
    a, b, c = mobius(hops)
    n, d = rate.numerator, rate.denominator
    if a * d <= n * b:  # no real profit at any size, so no exact profit above the slack (< 1)
        return None
    bound = _profit_bound(a * d, n * b, d * c, slack)
    if bound <= 0:
        return None

    def profit(x: int) -> int | None:
        amount = x
        try:
            for reserve_in, reserve_out, fee_bps in hops:
                amount = _v2_out(amount, reserve_in, reserve_out, fee_bps)
        except SwapReverted:
            return None
        return amount - x - (fee(x) if fee else 0)

    f = Counted(profit)
    top = min(max_input, MAX_RESERVE - hops[0][0])
    x_star = min(top, max(1, (math.isqrt(a * b * d * n) - b * n) // (n * c)))
    if f(x_star) is None:  # a later pair's reserve would overflow: the best is below
        top = _feasible_top(f, x_star)
        if top is None:
            return None
        x_star = top
    _scan_widening(f, x_star, top, max(1, scan))
    found = f.best()
    if found is None:
        return None
    lo, hi = _near_best(a, b, c, n, d, Fraction(found[1]) - slack)
    lo, hi = max(1, lo), min(top, hi)
    exact = hi - lo + 1 <= certify
    if exact:
        for x in range(lo, hi + 1):
            f(x)
    return _result(f, fee, exact, bound)


def _profit_bound(ad: int, nb: int, dc: int, slack: Fraction) -> int:
    """``floor(P* + slack)``, rounded up: ``P* = (sqrt(ad) - sqrt(nb))**2 / dc``."""
    root = math.isqrt(ad * nb)  # at most sqrt(ad * nb): the square below is at least P* * dc
    return math.floor(Fraction(ad + nb - 2 * root, dc) + slack)


def _near_best(a: int, b: int, c: int, n: int, d: int, target: Fraction) -> tuple[int, int]:
    """Integers bracketing every ``x`` with ``A x / (B + C x) - (n/d) x >= target``: the roots of
    ``n C t x**2 + (n B t + T d C - A d t) x + T d B <= 0`` with ``target = T / t``."""
    big_t, t = target.numerator, target.denominator
    qa = n * c * t
    qb = n * b * t + big_t * d * c - a * d * t
    qc = big_t * d * b
    disc = qb * qb - 4 * qa * qc
    if disc < 0:
        return 1, 0
    root = math.isqrt(disc) + 1  # above sqrt(disc): the bracket only widens
    return (-qb - root) // (2 * qa), -(-(-qb + root) // (2 * qa))


def _feasible_top(f: Counted, infeasible: int) -> int | None:
    """The largest feasible input below ``infeasible`` (feasibility is an interval from 1)."""
    if f(1) is None:
        return None
    lo, hi = 1, infeasible
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if f(mid) is None:
            hi = mid
        else:
            lo = mid
    return lo


def _scan_widening(f: Counted, centre: int, top: int, scan: int) -> None:
    """Evaluate ``[centre - scan, centre + scan]``, doubling the side whose edge holds the best."""
    lo, hi = max(1, centre - scan), min(top, centre + scan)
    for x in range(lo, hi + 1):
        f(x)
    width = scan
    while True:
        found = f.best()
        if found is None:
            return
        best = found[0]
        if best == hi and hi < top:
            new = min(top, hi + width)
            for x in range(hi + 1, new + 1):
                f(x)
            hi = new
        elif best == lo and lo > 1:
            new = max(1, lo - width)
            for x in range(new, lo):
                f(x)
            lo = new
        else:
            return
        width *= 2


def _result(f: Counted, fee: FlashFee | None, exact: bool, bound: int | None) -> Sized | None:
    found = f.best()
    if found is None or found[1] <= 0:
        return None
    x, profit = found
    premium = fee(x) if fee else 0
    return Sized(x, profit + x + premium, premium, f.evaluations, exact, bound)


def _float_hop(pool: Pool, zero_for_one: bool) -> tuple[float, float] | None:
    """``(m, k)`` with the hop's output near the current state ``m x / (1 + k x)`` in floats."""
    if isinstance(pool, V2Pool):
        fee, r_in, r_out = V2_FEE_BPS / BPS, *((pool.reserve0, pool.reserve1) if zero_for_one
                                                else (pool.reserve1, pool.reserve0))
    else:
        root = pool.sqrt_price_x96 / 2**96
        virtual0, virtual1 = pool.liquidity / root, pool.liquidity * root
        fee = pool.fee / FEE_DENOMINATOR
        r_in, r_out = (virtual0, virtual1) if zero_for_one else (virtual1, virtual0)
    if r_in <= 0 or r_out <= 0:
        return None
    g = 1.0 - fee
    return g * r_out / r_in, g / r_in


def float_start(pools: Mapping[str, Pool], cycle: Cycle, rate: float = 1.0) -> int | None:
    """The optimum of the route's float Mobius model (None when a pool has no in-range depth)."""
    m, k = 1.0, 0.0
    for hop in cycle.hops:
        model = _float_hop(pools[hop.pool], hop.zero_for_one)
        if model is None:
            return None
        m_hop, k_hop = model
        m, k = m * m_hop, k + k_hop * m
    if m <= rate or k <= 0:
        return None
    x = (math.sqrt(m / rate) - 1.0) / k
    return int(x) if math.isfinite(x) and x >= 1 else 1


def _v2_hops(pools: Mapping[str, Pool], cycle: Cycle) -> list[V2Hop] | None:
    hops = []
    for hop in cycle.hops:
        pool = pools[hop.pool]
        if not isinstance(pool, V2Pool):
            return None
        r_in, r_out = (pool.reserve0, pool.reserve1) if hop.zero_for_one else (pool.reserve1, pool.reserve0)
        hops.append((r_in, r_out, V2_FEE_BPS))
    return hops


def optimum(pools: Mapping[str, Pool], cycle: Cycle, fee: FlashFee | None = None, *,
            amount_out: AmountOut | None = None, scan: int = SCAN, rel_tol: float = REL_TOL,
            max_input: int = MAX_INPUT) -> Sized | None:
    """The best input of ``cycle`` (2 to 4 hops over ``pools``, keyed by address), exactly priced.

    V2-only routes use :func:`v2_optimum`; others start from :func:`float_start` and narrow
    with :func:`contracts.swapmath.search.maximise` (see the module docstring).

    Parameters
    ----------
    pools, cycle
        The states and the route, as for :func:`contracts.swapmath.cycles.optimise`.
    fee
        The flash lender's charge (None: no fee, as for a fused V2 flash swap).
    amount_out
        Exact output of a V3 hop ``(pool, zero_for_one, amount_in) -> int`` (default
        :func:`exact_amount_out`); it raises :class:`SwapReverted` or :class:`TicksUnknown`
        where the swap cannot be priced.
    scan, rel_tol, max_input
        Final scan half-width, narrowing tolerance (fraction of the input), largest input.

    Returns
    -------
    Sized | None
        None when no input profits.

    Raises
    ------
    BadSizing
        A route of fewer than 2 or more than 4 hops.
    """
    if not 2 <= len(cycle.hops) <= 4:
        raise BadSizing(f"a route has 2 to 4 hops, got {len(cycle.hops)}")
    v2 = _v2_hops(pools, cycle)
    if v2 is not None:
        return v2_optimum(v2, fee, scan=scan, max_input=max_input)
    rate = 1.0 + float(fee.rate if fee else 0)
    if marginal_rate(pools, cycle) < SCREEN * rate:  # concave profit falling from the start
        return None
    evaluate = amount_out or exact_amount_out
    steps = [(pools[h.pool], h.zero_for_one) for h in cycle.hops]

    def profit(x: int) -> int | None:
        amount = x
        try:
            for pool, zero_for_one in steps:
                if isinstance(pool, V2Pool):
                    r_in, r_out = (pool.reserve0, pool.reserve1) if zero_for_one else (pool.reserve1, pool.reserve0)
                    amount = _v2_out(amount, r_in, r_out, V2_FEE_BPS)
                else:
                    amount = evaluate(pool, zero_for_one, amount)
                if amount == 0:
                    break
        except (SwapReverted, TicksUnknown):
            return None
        return amount - x - (fee(x) if fee else 0)

    f = Counted(profit)
    start = float_start(pools, cycle, rate) or 1
    maximise(f, min(start, max_input), 1, max_input, rel_tol=rel_tol, scan=max(1, scan))
    return _result(f, fee, False, None)
