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

:func:`v2_optimum` computes the closed form in plain integers and runs the exact passes and the
plateau visit in numba (:mod:`contracts.swapmath.fast_v2`, :mod:`contracts.swapmath.compiled_v2`):
tens of microseconds (about a hundred when coarse tokens leave hundreds of plateaus to visit,
where the pure-Python reference, :func:`v2_optimum_reference`, takes milliseconds). Both give
the same answer, every field of it.

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
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import partial

from contracts.swapmath import fast_v2
from contracts.swapmath.cycles import MAX_INPUT, SCREEN, Cycle, Optimum, full_swap, marginal_rate
from contracts.swapmath.flash import BadSizing, FlashFee
from contracts.swapmath.libs import FEE_DENOMINATOR, SwapReverted
from contracts.swapmath.pools import SwapResult, TicksUnknown, V2Pool, V3Pool, v3_swap
from contracts.swapmath.search import maximise

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
#: A drop into the best input's plateau above this fraction of the profit is a saw-tooth worth
#: searching over plateaus.
PLATEAU_JUMP = 1e-7

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
        Exact route evaluations: distinct inputs whose route output was computed, plus (V2-only
        routes) exact backward passes finding the least input for an output.
    exact : bool
        Proven the best integer input (every other input earns less, or as much and is larger).
    bound : int | None
        Proven upper bound of any input's exact profit (V2-only routes), else None.
    """

    evaluations: int = 0
    exact: bool = False
    bound: int | None = None


def exact_amount_out(pool: Pool, zero_for_one: bool, amount_in: int,
                     swap: Callable[[V3Pool, bool, int], SwapResult] = v3_swap) -> int:
    """The reference exact output (``swap`` may be a compiled twin of the reference V3 swap),
    refusing (:class:`SwapReverted`) a V3 swap that stops at the price bound with input left
    over: FlashArbitrage reverts on it (``V3PartialFill``, :func:`~contracts.swapmath.cycles.full_swap`)."""
    if isinstance(pool, V2Pool):
        return pool.amount_out(zero_for_one, amount_in)
    if amount_in <= 0:
        return 0
    return full_swap(pool, zero_for_one, amount_in, swap).amount_out(zero_for_one)


def _v2_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int) -> int:
    """UniswapV2Library.getAmountOut with the fee in bps; the pair's uint112 reserve check."""
    if reserve_in + amount_in > MAX_RESERVE:
        raise SwapReverted("UniswapV2: OVERFLOW")
    with_fee = amount_in * (BPS - fee_bps)
    return with_fee * reserve_out // (reserve_in * BPS + with_fee)


class _Route:
    """A route's exact output and profit per input, memoised and counted.

    ``out`` raises :class:`SwapReverted` or :class:`TicksUnknown` where the route cannot be
    priced; such inputs, and those outside ``[1, top]``, are infeasible (None).
    """

    def __init__(self, out: Callable[[int], int], least: Callable[[int], int | None] | None, *,
                 fee: FlashFee | None, top: int):
        self._out = out
        self._least = least
        self.fee = fee
        self.top = top
        self.outs: dict[int, int | None] = {}
        self.extra = 0  # evaluations not of an input (backward passes)

    @property
    def evaluations(self) -> int:
        """Exact evaluations so far."""
        return len(self.outs) + self.extra

    def out(self, x: int) -> int | None:
        """The route's exact output for ``x``, None where infeasible."""
        if not 1 <= x <= self.top:
            return None
        if x not in self.outs:
            try:
                self.outs[x] = self._out(x)
            except (SwapReverted, TicksUnknown):
                self.outs[x] = None
        return self.outs[x]

    def profit(self, x: int) -> int | None:
        """Exact profit of ``x`` net of the flash fee, None where infeasible."""
        y = self.out(x)
        return None if y is None else y - x - (self.fee(x) if self.fee else 0)

    def least(self, y: int) -> int | None:
        """The least input paying ``y`` or more (None if none is known to), by the route's
        backward pass (one evaluation) when it has one."""
        if self._least is None:
            return None
        self.extra += 1
        try:
            return self._least(y)
        except (SwapReverted, TicksUnknown):
            return None

    def leftmost(self, x: int) -> int:
        """The least input paying what feasible ``x`` pays (the best input of its plateau)."""
        y = self.out(x)
        if y is not None and (start := self.least(y)) is not None and 1 <= start <= x and self.out(start) == y:
            return start
        step = 1
        while x - step >= 1 and self.out(x - step) == y:
            step *= 2
        lo, hi = max(0, x - step), x - step // 2 if step > 1 else x  # out(lo) differs, out(hi) == y
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.out(mid) == y:
                hi = mid
            else:
                lo = mid
        return hi

    def tooth_top(self, x: int) -> int | None:
        """The profit of the best input paying what ``x`` pays (None where infeasible)."""
        return None if self.out(x) is None else self.profit(self.leftmost(x))

    def best(self) -> Sized | None:
        """The most profitable input evaluated (ties: the smallest), None unless it profits."""
        found = [(p, -x) for x in self.outs if (p := self.profit(x)) is not None]
        if not found or max(found)[0] <= 0:
            return None
        profit, neg = max(found)
        x = -neg
        premium = self.fee(x) if self.fee else 0
        return Sized(x, profit + x + premium, premium, self.evaluations)


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


def v2_least_input(hops: Sequence[V2Hop], amount_out: int) -> int | None:
    """The least input whose exact chained ``getAmountOut`` pays ``amount_out`` or more (None if
    no input does): each pair's least input, ``ceil(10000 r_in y / (g (r_out - y)))``, backwards."""
    need = amount_out
    for reserve_in, reserve_out, fee_bps in reversed(hops):
        if need <= 0:
            return 0
        if need >= reserve_out:
            return None
        need = -(-BPS * reserve_in * need // ((BPS - fee_bps) * (reserve_out - need)))
    return need


def v2_optimum(hops: Sequence[V2Hop], fee: FlashFee | None = None, *, scan: int = SCAN,
               certify: int = CERTIFY, max_input: int = MAX_INPUT, compiled: bool = True) -> Sized | None:
    """The best input of a V2-only route from its closed form (see the module docstring).

    By default the plateau visit runs compiled (:mod:`contracts.swapmath.fast_v2`), with the
    very answer of the pure-Python reference, :func:`v2_optimum_reference` (every field of the
    result, the evaluation count included); ``compiled=False`` runs the reference.

    Parameters
    ----------
    hops
        ``(reserve_in, reserve_out, fee_bps)`` of each pair in route order (30 bps is Uniswap
        V2's 997/1000: scaling both by 10 leaves every floor unchanged).
    fee
        The flash lender's charge, None for none (a fused V2 flash swap).
    scan
        Plateaus (inputs paying one output) visited each side of the real optimum's when the
        proof would need more than ``certify``.
    certify
        Most plateaus visited to prove the input the exact best.
    max_input
        Largest input considered (FlashArbitrage's 14-byte amount).
    compiled
        Run the compiled plateau visit (False: the reference).

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
    if compiled:
        found = fast_v2.size(hops, fee, scan=scan, certify=certify, max_input=max_input)
        if found is not fast_v2.UNMODELLED:
            return None if found is None else Sized(*found)
    return v2_optimum_reference(hops, fee, scan=scan, certify=certify, max_input=max_input)


def v2_optimum_reference(hops: Sequence[V2Hop], fee: FlashFee | None = None, *, scan: int = SCAN,
                         certify: int = CERTIFY, max_input: int = MAX_INPUT) -> Sized | None:
    """:func:`v2_optimum` in pure Python: memoised exact evaluations, ``Fraction`` closed form."""
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

    def chain(x: int) -> int:
        for reserve_in, reserve_out, fee_bps in hops:
            x = _v2_out(x, reserve_in, reserve_out, fee_bps)
        return x

    route = _Route(chain, partial(v2_least_input, hops), fee=fee, top=min(max_input, MAX_RESERVE - hops[0][0]))
    x_star = min(route.top, max(1, (math.isqrt(a * b * d * n) - b * n) // (n * c)))
    if route.out(x_star) is None:  # a later pair's reserve would overflow: the best is below
        route.top = _feasible_top(route, x_star)
        x_star = route.top
        if x_star < 1:
            return None

    start = route.least(route.out(x_star) or 0) or 1
    route.out(start)
    found = route.best()  # every input earning as much (or 1, the least profit) is in [lo, hi]
    lo, hi = _near_best(a, b, c, n, d, Fraction(found.profit if found else 1) - slack)
    lo, hi = max(1, lo), min(route.top, hi)
    after = route.least((route.out(start) or 0) + 1)  # the plateau's width estimates how many to visit
    width = max(1, after - start) if after is not None else hi - lo + 1
    budget = certify if hi - lo + 1 <= certify * width else scan
    exact = _visit_plateaus(route, start, lo, hi, budget)
    result = route.best()
    return None if result is None else replace(result, evaluations=route.evaluations, exact=exact, bound=bound)


def _visit_plateaus(route: _Route, start: int, lo: int, hi: int, budget: int) -> bool:
    """Evaluate the least input of each plateau (inputs paying one output) meeting ``[lo, hi]``,
    outwards from ``start``'s, at most ``budget`` of them; True when every one was."""
    right = left = start
    right_done = left_done = False
    for _ in range(budget):
        if not right_done:
            y = route.out(right)
            nxt = None if y is None else route.least(y + 1)
            right_done = nxt is None or nxt > hi or route.out(nxt) is None
            right = nxt if nxt is not None and not right_done else right
        if not left_done:
            left_done = left <= lo
            if not left_done:
                y = route.out(left - 1)
                prev = None if y is None else route.least(y)
                left_done = prev is None or prev >= left
                left = left if prev is None else prev
                route.out(left)
        if right_done and left_done:
            return True
    return False


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


def _feasible_top(route: _Route, infeasible: int) -> int:
    """The largest feasible input below ``infeasible`` (0 if none; feasibility is an interval)."""
    lo, hi = 0, infeasible
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if route.out(mid) is None:
            hi = mid
        else:
            lo = mid
    return lo


def _float_hop(pool: Pool, zero_for_one: bool) -> tuple[float, float] | None:
    """``(m, k)`` with the hop's output near the current state ``m x / (1 + k x)`` in floats."""
    r_in: float
    r_out: float
    if isinstance(pool, V2Pool):
        fee = pool.fee_bps / BPS
        r_in, r_out = (pool.reserve0, pool.reserve1) if zero_for_one else (pool.reserve1, pool.reserve0)
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
        hops.append((r_in, r_out, pool.fee_bps))
    return hops


def optimum(pools: Mapping[str, Pool], cycle: Cycle, fee: FlashFee | None = None, *,
            amount_out: AmountOut | None = None, scan: int = SCAN, rel_tol: float = REL_TOL,
            max_input: int = MAX_INPUT, compiled: bool = True) -> Sized | None:
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
    compiled
        Size V2-only routes with the compiled plateau visit (False: the pure-Python reference;
        the answer is the same).

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
        return v2_optimum(v2, fee, scan=scan, max_input=max_input, compiled=compiled)
    rate = 1.0 + float(fee.rate if fee else 0)
    if marginal_rate(pools, cycle) < SCREEN * rate:  # concave profit falling from the start
        return None
    route = _Route(*_chain(pools, cycle, amount_out or exact_amount_out), fee=fee, top=max_input)
    start = min(float_start(pools, cycle, rate) or 1, max_input)
    found = maximise(route.profit, start, 1, max_input, rel_tol=rel_tol, scan=max(1, scan))
    if found is not None and found[1] > 0:
        _plateau_search(route, found[0], rel_tol)
    return route.best()


def _chain(pools: Mapping[str, Pool], cycle: Cycle, evaluate: AmountOut) -> tuple[Callable[[int], int],
                                                                                 Callable[[int], int | None]]:
    """The route's exact output (V2 hops by ``getAmountOut``, V3 hops by ``evaluate``) and its
    backward pass: the least input paying an output or more."""
    steps = [(pools[h.pool], h.zero_for_one) for h in cycle.hops]

    def hop(pool: Pool, zero_for_one: bool, x: int) -> int:
        if isinstance(pool, V2Pool):
            r_in, r_out = (pool.reserve0, pool.reserve1) if zero_for_one else (pool.reserve1, pool.reserve0)
            return _v2_out(x, r_in, r_out, pool.fee_bps)
        return evaluate(pool, zero_for_one, x)

    def out(x: int) -> int:
        for pool, zero_for_one in steps:
            x = hop(pool, zero_for_one, x)
            if x == 0:
                return 0
        return x

    def least(y: int) -> int | None:
        for pool, zero_for_one in reversed(steps):
            if y <= 0:
                return 0
            if isinstance(pool, V2Pool):
                r_in, r_out = (pool.reserve0, pool.reserve1) if zero_for_one else (pool.reserve1, pool.reserve0)
                found = v2_least_input([(r_in, r_out, pool.fee_bps)], y)
            else:
                found = _v3_least_input(partial(hop, pool, zero_for_one), pool, zero_for_one, y)
            if found is None:
                return None
            y = found
        return y

    return out, least


def _v3_least_input(out: Callable[[int], int], pool: V3Pool, zero_for_one: bool, y: int) -> int | None:
    """The least input for which ``out`` pays ``y`` or more: the pool's exact-output swap gives
    the estimate, ``out`` itself settles it (a V3 pool rounds exact-in and exact-out apart)."""
    result = v3_swap(pool, zero_for_one, -y)
    if result.amount_out(zero_for_one) < y:
        return None  # the pool runs dry first
    a = result.amount0 if zero_for_one else result.amount1
    if out(a) < y:
        step = 1
        while out(a + step) < y:
            step *= 2
        lo, hi = a + step // 2, a + step  # out(lo) < y <= out(hi)
    else:
        step = 1
        while a - step >= 1 and out(a - step) >= y:
            step *= 2
        lo, hi = max(0, a - step), a - step // 2 if step > 1 else a
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if out(mid) >= y:
            hi = mid
        else:
            lo = mid
    return hi


def _plateau_search(route: _Route, best: int, rel_tol: float) -> None:
    """Where coarse token units make the profit a saw-tooth (wide plateaus of one output, each
    best at its least input), search again over the plateaus' best profits.

    Skipped when the plateau of ``best`` starts at most one input lower and the drop into it
    is below ``PLATEAU_JUMP`` of the profit: the saw-tooth cannot mislead the search then.
    """
    start = route.leftmost(best)
    here, before = route.profit(start), route.profit(start - 1)
    if here is None or (start >= best - 1 and before is not None and here - before <= PLATEAU_JUMP * abs(here)):
        return
    width = max(1, start - route.leftmost(start - 1)) if start > 1 else 1
    maximise(route.tooth_top, start, 1, route.top, rel_tol=rel_tol, resolution=width, scan=0)
