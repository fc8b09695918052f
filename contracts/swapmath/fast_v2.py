""":func:`contracts.swapmath.sizing.v2_optimum`, fast: the same answer, bit for bit.

The reference (:mod:`contracts.swapmath.sizing`) sizes a V2-only route from its closed form in
``Fraction`` arithmetic and then visits plateaus through a memoised Python route. Here the closed
form (the Mobius coefficients, the proven bound, the real optimum and the bracket of every input
that may earn as much as the best found) is plain integer arithmetic on the same reduced terms,
so it gives the very same integers; the real optimum and the start of its plateau are evaluated
in Python (three exact passes), and everything after, the plateau visit, runs in one call of the
numba kernel :func:`contracts.swapmath.compiled_v2.visit`.

:func:`size` returns :data:`UNMODELLED` for the states the fast path leaves to the reference:
a real optimum no pair can hold (the reference then searches for the largest feasible input),
``certify`` or ``scan`` outside ``[1, 2**62)`` and ``[0, 2**62)``, and any state where the
kernel's walk meets what its exact counting assumes cannot happen (a backward pass that does not
move). Thread safety: pure functions (the fee terms' cache is guarded by the GIL).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from contracts.swapmath import compiled_v2
from contracts.swapmath.flash import FlashFee
from mesh.protocol.constants import FlashSource

#: A V2 pair's reserves are uint112.
MAX_RESERVE = 2**112 - 1
BPS = 10_000
_KIND = {FlashSource.AAVE_V3: compiled_v2.AAVE, FlashSource.UNISWAP_V2: compiled_v2.V2,
         FlashSource.UNISWAP_V3: compiled_v2.V3}
_LIMIT = 2**62


class Unmodelled(enum.Enum):
    """The state :func:`size` leaves to the reference."""

    ROUTE = 0


#: Returned by :func:`size` when the reference must size the route.
UNMODELLED = Unmodelled.ROUTE


class V2Sizing(NamedTuple):
    """What :func:`size` found: the fields of :class:`~contracts.swapmath.sizing.Sized`."""

    amount_in: int
    amount_out: int
    premium: int
    evaluations: int
    exact: bool
    bound: int


def mobius(hops: Sequence[tuple[int, int, int]]) -> tuple[int, int, int]:
    """``(A, B, C)`` with the route's unrounded output ``A x / (B + C x)``, reduced by their gcd.

    Each hop maps the coefficients linearly, so reducing once at the end gives what reducing
    after every hop (the reference) gives.
    """
    a, b, c = 1, 1, 0
    for reserve_in, reserve_out, fee_bps in hops:
        g = BPS - fee_bps
        a, b, c = a * g * reserve_out, b * BPS * reserve_in, BPS * reserve_in * c + g * a
    k = math.gcd(a, b, c)
    return a // k, b // k, c // k


@lru_cache(maxsize=256)
def _terms(fee: FlashFee | None) -> tuple[int, int, int, int, int, int]:
    """``(n, d, s, t, kind, fee)``: the reduced ``1 + rate = n / d`` and ``slack = s / t``, and the
    kernel's premium."""
    if fee is None:
        return 1, 1, 0, 1, compiled_v2.NO_FEE, 0
    rate, slack = 1 + fee.rate, fee.slack
    return rate.numerator, rate.denominator, slack.numerator, slack.denominator, _KIND[fee.source], fee.fee


def _near_best(a: int, b: int, c: int, n: int, d: int, big_t: int, t: int) -> tuple[int, int]:
    """The reference's bracket of every ``x`` with ``A x / (B + C x) - (n/d) x >= T / t``."""
    qa = n * c * t
    qb = n * b * t + big_t * d * c - a * d * t
    qc = big_t * d * b
    disc = qb * qb - 4 * qa * qc
    if disc < 0:
        return 1, 0
    root = math.isqrt(disc) + 1
    return (-qb - root) // (2 * qa), -(-(-qb + root) // (2 * qa))


def size(hops: Sequence[tuple[int, int, int]], fee: FlashFee | None, *, scan: int, certify: int,
         max_input: int) -> V2Sizing | Unmodelled | None:
    """:func:`~contracts.swapmath.sizing.v2_optimum`'s answer for checked ``hops`` (2 to 4 pairs,
    reserves in ``[1, 2**112 - 1]``, fees in ``[0, 10000)``): None when no input profits,
    :data:`UNMODELLED` when the reference must size it (see the module docstring)."""
    n, d, s, t, kind, fee_value = _terms(fee)
    a, b, c = mobius(hops)
    ad, nb = a * d, n * b
    if ad <= nb:
        return None
    dc = d * c
    root = math.isqrt(ad * nb)
    bound = ((ad + nb - 2 * root) * t + s * dc) // (dc * t)
    if bound <= 0:
        return None
    if not (1 <= certify < _LIMIT and 0 <= scan < _LIMIT):
        return UNMODELLED
    top = min(max_input, MAX_RESERVE - hops[0][0])
    x_star = min(top, max(1, (root - nb) // (n * c)))
    if x_star < 1:
        return UNMODELLED
    mask, half = compiled_v2.HALF_MASK, compiled_v2.HALF
    packed = [0] * 20
    i = 0
    for reserve_in, reserve_out, fee_bps in hops:
        packed[i: i + 5] = reserve_in & mask, reserve_in >> half, reserve_out & mask, reserve_out >> half, BPS - fee_bps
        i += 5
    route = tuple(packed)
    status, (start_lo, start_hi), profitable, (best_lo, best_hi) = compiled_v2.first(
        route, len(hops), kind, fee_value, x_star & mask, x_star >> half)
    if status != compiled_v2.DONE:
        return UNMODELLED
    start, best = start_lo | start_hi << half, best_lo | best_hi << half if profitable else 1
    big_t = best * t - s
    k = math.gcd(big_t, t)
    lo, hi = _near_best(a, b, c, n, d, big_t // k, t // k)
    lo, hi = max(1, lo), min(top, hi)
    span = hi - lo + 1
    lo, hi = min(lo, top + 1), max(0, hi)  # the walk compares inputs in [1, top] with them
    state = (x_star & mask, x_star >> half, start & mask, start >> half, lo & mask, lo >> half,
             hi & mask, hi >> half, max(span, 0) & mask, max(span, 0) >> half, int(span < 0), certify, scan)
    status, exact, evaluations, x, y, premium = compiled_v2.visit(route, len(hops), kind, fee_value,
                                                                  state)
    if status != compiled_v2.DONE or x == (0, 0):
        return None if status == compiled_v2.DONE else UNMODELLED
    evaluations += 1 + (start != x_star) + 1  # the real optimum, the start, the start's backward pass
    return V2Sizing(x[0] | x[1] << half, y[0] | y[1] << half, premium[0] | premium[1] << half,
                    evaluations, exact, bound)
