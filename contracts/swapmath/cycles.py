"""Arbitrage cycles over a set of pools, priced exactly, and their best input by exact search.

A :class:`Cycle` is a closed route of 2 to 4 hops starting and ending in ``start`` token; its
output for an input is the chain of exact pool outputs (:func:`contracts.swapmath.pools.amount_out`,
V3 hops with the loosest price limit, as FlashArbitrage swaps). Profit is in raw units of the
start token: gross ``out - in``, or net of a flash-loan premium ``out - in - premium(in)``.

What "optimal" means
--------------------
Profit as a function of the integer input is concave up to rounding: every pool rounds in its own
favour by at most a unit or so per step, so the integer profit is a concave curve with a small
saw-tooth on it. :func:`optimise` brackets the maximum by doubling, narrows it with an integer
golden-section search on the exact profit, then evaluates *every* integer within ``scan`` of the
narrowed interval and returns the best input seen (ties: the smallest seen; a wide plateau of
equal profit may hold smaller inputs that earn the same). The reported input and
profit are exact (the chain pays exactly that profit for that input); another input can beat it
only by the saw-tooth's height, that is by rounding units, never by a meaningful amount.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations

from contracts.swapmath.libs import SwapReverted
from contracts.swapmath.pools import (
    SwapResult,
    TicksUnknown,
    V2Pool,
    V3Pool,
    amount_out,
    spot_rate,
    v3_swap,
)

#: Largest input searched: FlashArbitrage's 14-byte amount field.
MAX_INPUT = 2**112 - 1
#: Integers scanned on each side of the narrowed interval.
SCAN = 16
#: A route whose product of marginal rates is below this cannot profit (margin for float error).
SCREEN = 1 - 1e-9

Pool = V2Pool | V3Pool


@dataclass(slots=True, frozen=True)
class Hop:
    """Sell ``token_in`` for ``token_out`` in the pool at ``pool``."""

    pool: str
    token_in: str
    token_out: str

    @property
    def zero_for_one(self) -> bool:
        """True when ``token_in`` is the pool's token0 (tokens sort by address)."""
        return int(self.token_in, 16) < int(self.token_out, 16)


@dataclass(slots=True, frozen=True)
class Cycle:
    """A closed route: ``hops[0].token_in == hops[-1].token_out`` is the start (profit) token."""

    hops: tuple[Hop, ...]

    @property
    def start(self) -> str:
        """The token borrowed, routed and returned."""
        return self.hops[0].token_in

    @property
    def pools(self) -> tuple[str, ...]:
        """Pool addresses in route order."""
        return tuple(h.pool for h in self.hops)


def enumerate_cycles(pools: Iterable[Pool], max_hops: int = 3) -> list[Cycle]:
    """Every cycle of 2 to ``max_hops`` hops (at most 4, FlashArbitrage's longest route) over
    distinct pools, in both directions and from each of its tokens: a route for each (pools in
    order, start token)."""
    by_pair: dict[frozenset[str], list[Pool]] = {}
    for pool in pools:
        by_pair.setdefault(frozenset((pool.token0.lower(), pool.token1.lower())), []).append(pool)
    tokens = sorted({t for pair in by_pair for t in pair})
    cycles: list[Cycle] = []
    for hops in range(2, max_hops + 1):
        for path in permutations(tokens, hops):
            cycles.extend(_routes(path, by_pair))
    return cycles


def _routes(path: Sequence[str], by_pair: Mapping[frozenset[str], list[Pool]]) -> list[Cycle]:
    """Cycles visiting tokens in ``path`` order (back to ``path[0]``) over distinct pools."""
    legs = [by_pair.get(frozenset((a, b)), []) for a, b in zip(path, [*path[1:], path[0]], strict=True)]
    routes: list[Cycle] = []

    def extend(i: int, chosen: list[Pool]) -> None:
        if i == len(legs):
            hops = tuple(Hop(p.address, _orig(p, path[j]), _orig(p, path[(j + 1) % len(path)]))
                         for j, p in enumerate(chosen))
            routes.append(Cycle(hops))
            return
        for pool in legs[i]:
            if all(pool.address != c.address for c in chosen):
                extend(i + 1, [*chosen, pool])

    extend(0, [])
    return routes


def _orig(pool: Pool, lower: str) -> str:
    """The pool's own spelling of a token given in lower case."""
    return pool.token0 if pool.token0.lower() == lower else pool.token1


def cycle_out(pools: Mapping[str, Pool], cycle: Cycle, amount_in: int) -> int:
    """Exact output of the route for ``amount_in`` (0 once any hop pays nothing)."""
    amount = amount_in
    for hop in cycle.hops:
        amount = amount_out(pools[hop.pool], hop.zero_for_one, amount)
        if amount == 0:
            return 0
    return amount


def full_swap(pool: V3Pool, zero_for_one: bool, amount_in: int,
              swap: Callable[[V3Pool, bool, int], SwapResult] = v3_swap) -> SwapResult:
    """An exact-input V3 swap (``swap``: the reference or a compiled twin) that spends all of
    ``amount_in``; one that stops at the price bound with input left over raises
    :class:`SwapReverted`, as FlashArbitrage reverts on it (``V3PartialFill``)."""
    result = swap(pool, zero_for_one, amount_in)
    if (result.amount0 if zero_for_one else result.amount1) != amount_in:
        raise SwapReverted(f"V3PartialFill: pool {pool.address} took less than {amount_in}")
    return result


def ticks_crossed(pool: V3Pool, tick_after: int) -> int:
    """Initialized ticks a swap from ``pool.tick`` to ``tick_after`` crosses."""
    if tick_after >= pool.tick:
        return sum(1 for t in pool.ticks if pool.tick < t <= tick_after)
    return sum(1 for t in pool.ticks if tick_after < t <= pool.tick)


def route_outputs(pools: Mapping[str, Pool], cycle: Cycle, amount_in: int) -> tuple[tuple[int, ...], int]:
    """Every hop's exact output for ``amount_in`` as FlashArbitrage swaps them, and the initialized
    V3 ticks the route crosses (for its gas).

    Raises
    ------
    SwapReverted
        A hop reverts, or a V3 hop cannot spend its whole input.
    TicksUnknown
        A V3 hop needs ticks beyond the known bitmap words.
    """
    outs, crossed, amount = [], 0, amount_in
    for hop in cycle.hops:
        pool = pools[hop.pool]
        if isinstance(pool, V2Pool):
            amount = pool.amount_out(hop.zero_for_one, amount)
        else:
            result = full_swap(pool, hop.zero_for_one, amount)
            crossed += ticks_crossed(pool, result.tick)
            amount = result.amount_out(hop.zero_for_one)
        outs.append(amount)
    return tuple(outs), crossed


def marginal_rate(pools: Mapping[str, Pool], cycle: Cycle) -> float:
    """Product of the hops' marginal rates after fees: above 1 the cycle profits at small size."""
    rate = 1.0
    for hop in cycle.hops:
        rate *= spot_rate(pools[hop.pool], hop.zero_for_one)
    return rate


def aave_premium(amount: int, premium_bps: int) -> int:
    """Aave V3's flash-loan premium: ``PercentageMath.percentMul`` (half up) of the amount."""
    return (amount * premium_bps + 5000) // 10000


@dataclass(slots=True, frozen=True)
class Optimum:
    """The best input found and what it yields, exactly (raw units of the start token)."""

    amount_in: int
    amount_out: int
    premium: int

    @property
    def profit(self) -> int:
        """``amount_out - amount_in - premium``."""
        return self.amount_out - self.amount_in - self.premium


def optimise(pools: Mapping[str, Pool], cycle: Cycle, premium: Callable[[int], int] | None = None,
             *, scan: int = SCAN, max_input: int = MAX_INPUT) -> Optimum | None:
    """The input that maximises the cycle's exact profit (net of ``premium(in)`` when given).

    Returns None when no input profits (see the module docstring for what "maximises" means).
    Inputs whose swaps leave the known ticks or revert count as unprofitable.
    """
    if marginal_rate(pools, cycle) < SCREEN:
        return None
    fee = premium or (lambda _: 0)
    memo: dict[int, int] = {}

    def profit(x: int) -> int:
        if x not in memo:
            try:
                memo[x] = cycle_out(pools, cycle, x) - x - fee(x)
            except (SwapReverted, TicksUnknown):
                memo[x] = -(2**256)
        return memo[x]

    best, x = 1, 1
    while x <= max_input:  # bracket: profit rises, then falls
        if profit(x) > profit(best):
            best = x
        elif profit(best) > 0 and x >= 4 * best:
            break
        x *= 2
    lo, hi = max(1, best // 2), min(max_input, best * 2)
    while hi - lo > 2 * scan:  # golden-section on integers
        third = (hi - lo) * 382 // 1000
        a, b = lo + third, hi - third
        if profit(a) < profit(b):
            lo = a
        else:
            hi = b
    for x in range(max(1, lo - scan), min(max_input, hi + scan) + 1):
        profit(x)
    x_best = max(memo, key=lambda k: (memo[k], -k))
    if memo[x_best] <= 0:
        return None
    return Optimum(x_best, memo[x_best] + x_best + fee(x_best), fee(x_best))
