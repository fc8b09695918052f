"""The exact V2 route passes of :func:`contracts.swapmath.sizing.v2_optimum` as numba kernels.

A V2-only route's exact output (chained ``getAmountOut``) and its backward pass (the least input
paying an output) over :mod:`contracts.swapmath.u256` limbs: reserves and amounts are below
2**112, so ``with_fee * reserve_out`` and ``10000 * reserve_in * need`` fit in 256 bits and every
floor and ceiling is the integer one. Divisions (:func:`divmod_small`) estimate the quotient in
floats and correct it exactly; the flash premium divides by a 64-bit divisor's reciprocal.

Two kernels run what the reference does around its big-integer closed form: :func:`first` the
real optimum's plateau (its start and the better profit of the two), :func:`visit` the rest, in
one call: the first plateau's width, the visit budget and the walk over plateaus outwards from
the start, keeping the best input (ties: the smallest) and counting evaluations exactly as the
reference's memo does (distinct inputs evaluated plus backward passes).

Arguments: ``hops``, a ``UniTuple(int64, 20)`` of four hops (unused ones zero), each
``(reserve_in_lo, reserve_in_hi, reserve_out_lo, reserve_out_hi, 10000 - fee_bps)``; ``n`` the
hops used; ``kind`` and ``fee`` the flash premium (:data:`NO_FEE`, :data:`AAVE`, :data:`V2`,
:data:`V3` and the lender's fee). :func:`visit`'s ``state`` is a ``UniTuple(int64, 13)``:
``(x_star, start, lo, hi, span)`` as halves (the real optimum and its plateau's start, the
bracket clamped to ``[1, top + 1]`` and ``[0, top]`` with ``top`` the largest input considered,
the reference's ``hi - lo + 1`` when it is not negative), then ``span_negative``, ``certify``
and ``scan``. Values travel as two 56-bit halves (``lo, hi``) so every argument is a
non-negative int64 and each kernel compiles one signature.

:func:`visit` returns ``(status, exact, evaluations, x, y, premium)``: :data:`DONE` or
:data:`FALLBACK` (a state the kernel does not model: the caller runs the reference instead),
whether every plateau of the bracket was visited, the evaluations it added (the real optimum, its
start and that start's backward pass excluded), and the best input seen with its output and
premium as halves (``x`` 0 when no input profits). Thread safety: pure functions.
"""

from __future__ import annotations

import math

from numba import int64, njit, uint64

from contracts.swapmath.u256 import add, div_2by1, divrem, is_zero, le, lt, mul_128, reciprocal, sub

#: Flash premium kinds the kernel charges.
NO_FEE, AAVE, V2, V3 = 0, 1, 2, 3
#: Kernel statuses.
DONE, FALLBACK = 0, 1
#: Amounts travel as two 56-bit halves (all values are below 2**112).
HALF = 56
HALF_MASK = (1 << HALF) - 1


#: Quotients estimated in floats up to this bound (the product with a 127-bit divisor stays
#: below 2**255); larger ones go to Knuth's division.
_FLOAT_QUOTIENT = 2.0**125
_TWO64 = 2.0**64
_TWO_M64 = 2.0**-64


@njit(cache=True, inline="always")
def _float(v):
    """``v`` (unsigned) as a float, within a few ulps."""
    if v[3] == uint64(0) and v[2] == uint64(0):
        return float(v[1]) * _TWO64 + float(v[0])
    return ((float(v[3]) * _TWO64 + float(v[2])) * _TWO64 + float(v[1])) * _TWO64 + float(v[0])


@njit(cache=True, inline="always")
def _floor_of(x):
    """The U256 of ``floor(x)`` for a float ``0 <= x < 2**125``."""
    high = math.floor(x * _TWO_M64)
    return (uint64(x - high * _TWO64), uint64(high), uint64(0), uint64(0))


@njit(cache=True, inline="always")
def divmod_small(num, den):
    """``(num // den, num % den != 0)`` for ``1 <= den < 2**127``: the quotient estimated in
    floats and corrected exactly (each round leaves a remainder about 2**-50 of the last), then
    settled by at most a few unit steps. Quotients of 2**125 or more go to Knuth's division."""
    zero = (uint64(0), uint64(0), uint64(0), uint64(0))
    inv = 1.0 / _float(den)
    estimate = _float(num) * inv
    if estimate < _FLOAT_QUOTIENT:
        q = _floor_of(estimate)
        r = sub(num, mul_128(q, den))  # two's complement: |r| < 2**255
        for _ in range(8):
            negative = (r[3] >> uint64(63)) != uint64(0)
            step = _float(sub(zero, r) if negative else r) * inv
            if step < 2.0:
                one = (uint64(1), uint64(0), uint64(0), uint64(0))
                while (r[3] >> uint64(63)) != uint64(0):
                    q, r = sub(q, one), add(r, den)
                while not lt(r, den):
                    q, r = add(q, one), sub(r, den)
                return q, not is_zero(r)
            dq = _floor_of(step)
            if negative:
                q, r = sub(q, dq), add(r, mul_128(dq, den))
            else:
                q, r = add(q, dq), sub(r, mul_128(dq, den))
    return divrem(zero, num, den)


@njit(cache=True, inline="always")
def _divisor(d):
    """``(shift, normalized, reciprocal)`` of a non-zero 64-bit divisor for :func:`_div_word`."""
    shift = 0
    while (d << uint64(shift)) >> uint64(63) == uint64(0):
        shift += 1
    normalized = d << uint64(shift)
    return shift, normalized, reciprocal(normalized)


@njit(cache=True, inline="always")
def _div_word(x, divisor):
    """``(x // d, x % d != 0)`` for ``x < 2**128`` and ``divisor`` from :func:`_divisor`."""
    shift, dn, v = divisor
    if shift == 0:
        n2, n1, n0 = uint64(0), x[1], x[0]
    else:
        s, back = uint64(shift), uint64(64 - shift)
        n2, n1, n0 = x[1] >> back, (x[1] << s) | (x[0] >> back), x[0] << s
    q1, r = div_2by1(n2, n1, dn, v)
    q0, r = div_2by1(r, n0, dn, v)
    return (q0, q1, uint64(0), uint64(0)), r != uint64(0)


@njit(cache=True, inline="always")
def _u(lo, hi):
    """The U256 of two non-negative 56-bit halves."""
    low, high = uint64(lo), uint64(hi)
    return (low | (high << uint64(56)), high >> uint64(8), uint64(0), uint64(0))


@njit(cache=True, inline="always")
def _small(v):
    return (uint64(v), uint64(0), uint64(0), uint64(0))


@njit(cache=True, inline="always")
def _halves(v):
    """The 56-bit halves of a U256 below 2**112, as int64."""
    return int64(v[0] & uint64(0xFFFFFFFFFFFFFF)), int64((v[0] >> uint64(56)) | (v[1] << uint64(8)))


@njit(cache=True)
def _out(x, route, n):
    """``(feasible, output)`` of the chained getAmountOut; infeasible when a pair's reserve
    would pass 2**112 - 1 (``x`` itself is at least 1 and at most the trade's top)."""
    rooms, scaled, routs, gs = route
    for i in range(n):
        if lt(rooms[i], x):
            return False, x
        with_fee = mul_128(x, gs[i])
        x, _ = divmod_small(mul_128(with_fee, routs[i]), add(scaled[i], with_fee))
    return True, x


@njit(cache=True)
def _least(y, route, n):
    """``(found, input)``: the least input whose chained output is ``y`` or more (the pairs'
    ``ceil(10000 r_in y / (g (r_out - y)))`` backwards); not found when a pair cannot pay."""
    _, scaled, routs, gs = route
    need = y
    for j in range(n):
        i = n - 1 - j
        if is_zero(need):
            return True, need
        if le(routs[i], need):
            return False, need
        q, inexact = divmod_small(mul_128(scaled[i], need), mul_128(gs[i], sub(routs[i], need)))
        need = add(q, _small(1)) if inexact else q
    return True, need


@njit(cache=True, inline="always")
def _premium(x, kind, fee, divisor):
    """The flash premium on ``x`` (below 2**112), as :class:`~contracts.swapmath.flash.FlashFee`;
    ``divisor`` is :func:`_divisor` of the kind's denominator."""
    if kind == 1:  # Aave: percentMul, half up
        q, _ = _div_word(add(mul_128(x, _small(fee)), _small(5_000)), divisor)
        return q
    if kind == 2:  # V2 lender off the route: ceil(x * 10000 / (10000 - fee)) - x
        q, inexact = _div_word(mul_128(x, _small(10_000)), divisor)
        return sub(add(q, _small(1)) if inexact else q, x)
    if kind == 3:  # V3 flash: mulDivRoundingUp(x, fee, 1e6)
        q, inexact = _div_word(mul_128(x, _small(fee)), divisor)
        return add(q, _small(1)) if inexact else q
    return _small(0)


@njit(cache=True, inline="always")
def _beats(y, cost, x, best_y, best_cost, best_x):
    """``y - cost > best_y - best_cost``, or equal with a smaller ``x`` (no negative values)."""
    mine, theirs = add(y, best_cost), add(best_y, cost)
    return lt(theirs, mine) or (not lt(mine, theirs) and lt(x, best_x))


@njit(cache=True, inline="always")
def _route(hops):
    """Per packed hop: the room left below 2**112 - 1 over ``reserve_in`` (the largest input it
    holds), ``10000 * reserve_in``, ``reserve_out`` and ``10000 - fee_bps``."""
    max_reserve = (uint64(0xFFFFFFFFFFFFFFFF), uint64(0xFFFFFFFFFFFF), uint64(0), uint64(0))
    bps = _small(10_000)
    rins = (_u(hops[0], hops[1]), _u(hops[5], hops[6]), _u(hops[10], hops[11]), _u(hops[15], hops[16]))
    rooms = (sub(max_reserve, rins[0]), sub(max_reserve, rins[1]), sub(max_reserve, rins[2]),
             sub(max_reserve, rins[3]))
    scaled = (mul_128(rins[0], bps), mul_128(rins[1], bps), mul_128(rins[2], bps), mul_128(rins[3], bps))
    routs = (_u(hops[2], hops[3]), _u(hops[7], hops[8]), _u(hops[12], hops[13]), _u(hops[17], hops[18]))
    gs = (_small(hops[4]), _small(hops[9]), _small(hops[14]), _small(hops[19]))
    return rooms, scaled, routs, gs


@njit(cache=True, inline="always")
def _fee_divisor(kind, fee):
    return _divisor(uint64(10_000 - fee if kind == 2 else 1_000_000 if kind == 3 else 10_000))


@njit(cache=True)
def first(hops, n, kind, fee, x_lo, x_hi):
    """The reference's first steps from the real optimum ``x_star`` (56-bit halves): the start of
    its plateau (the least input paying what it pays, 1 when none) and the better profit of the
    two. Returns ``(status, start, profitable, profit)``: :data:`FALLBACK` when ``x_star`` is
    infeasible (or the start lies above it), ``profit`` as halves when ``profitable``."""
    route = _route(hops)
    divisor = _fee_divisor(kind, fee)
    one = _small(1)
    x_star = _u(x_lo, x_hi)
    feasible, y_star = _out(x_star, route, n)
    if not feasible:
        return FALLBACK, (0, 0), False, (0, 0)
    found, start = _least(y_star, route, n)
    if not found or is_zero(start):
        start = one
    if lt(x_star, start):
        return FALLBACK, (0, 0), False, (0, 0)
    _, y_start = _out(start, route, n)
    y, cost = y_star, add(x_star, _premium(x_star, kind, fee, divisor))
    cost_start = add(start, _premium(start, kind, fee, divisor))
    if _beats(y_start, cost_start, start, y, cost, x_star):
        y, cost = y_start, cost_start
    if le(y, cost):
        return DONE, _halves(start), False, (0, 0)
    return DONE, _halves(start), True, _halves(sub(y, cost))


@njit(cache=True)
def visit(hops, n, kind, fee, state):
    """The reference's plateau visit (see the module docstring for arguments and result)."""
    route = _route(hops)
    x_star, start = _u(state[0], state[1]), _u(state[2], state[3])
    lo, hi, span = _u(state[4], state[5]), _u(state[6], state[7]), _u(state[8], state[9])
    span_negative, certify, scan = state[10] != 0, state[11], state[12]
    one = _small(1)
    divisor = _fee_divisor(kind, fee)

    # the best of the two inputs the caller evaluated (both feasible)
    _, best_y = _out(x_star, route, n)
    best_x, best_cost = x_star, add(x_star, _premium(x_star, kind, fee, divisor))
    _, y_start = _out(start, route, n)
    cost = add(start, _premium(start, kind, fee, divisor))
    if _beats(y_start, cost, start, best_y, best_cost, best_x):
        best_x, best_y, best_cost = start, y_start, cost

    evaluations = 1  # the first plateau's end
    found, after = _least(add(y_start, one), route, n)
    if not found:
        budget = certify if not span_negative or certify == 1 else scan
    else:
        width = one if le(after, start) else sub(after, start)
        wide = width[2] != 0 or width[3] != 0
        fits = span_negative or wide or le(span, mul_128(_small(certify), width))
        budget = certify if fits else scan

    right, left, y_right = start, start, y_start
    right_done = left_done = False
    exact = False
    for _ in range(budget):
        if not right_done:
            evaluations += 1
            found, nxt = _least(add(y_right, one), route, n)
            if not found or lt(hi, nxt) or is_zero(nxt):
                right_done = True
            else:
                if le(nxt, right):
                    return FALLBACK, False, 0, (0, 0), (0, 0), (0, 0)
                if nxt != x_star:
                    evaluations += 1
                feasible, y = _out(nxt, route, n)
                if not feasible:
                    right_done = True
                else:
                    cost = add(nxt, _premium(nxt, kind, fee, divisor))
                    if _beats(y, cost, nxt, best_y, best_cost, best_x):
                        best_x, best_y, best_cost = nxt, y, cost
                    right, y_right = nxt, y
        if not left_done:
            left_done = le(left, lo)
            if not left_done:
                below = sub(left, one)
                evaluations += 1
                feasible, y = _out(below, route, n)
                if not feasible:
                    left_done = True
                else:
                    cost = add(below, _premium(below, kind, fee, divisor))
                    if _beats(y, cost, below, best_y, best_cost, best_x):
                        best_x, best_y, best_cost = below, y, cost
                    evaluations += 1
                    found, prev = _least(y, route, n)
                    if not found:
                        left_done = True
                    else:
                        if le(left, prev):
                            return FALLBACK, False, 0, (0, 0), (0, 0), (0, 0)
                        left = prev
                        if lt(prev, below) and not is_zero(prev):
                            evaluations += 1  # pays y: the least input paying below's output
                            cost = add(prev, _premium(prev, kind, fee, divisor))
                            if _beats(y, cost, prev, best_y, best_cost, best_x):
                                best_x, best_y, best_cost = prev, y, cost
        if right_done and left_done:
            exact = True
            break
    if le(best_y, best_cost):
        return DONE, exact, evaluations, (0, 0), (0, 0), (0, 0)
    premium = sub(best_cost, best_x)
    return DONE, exact, evaluations, _halves(best_x), _halves(best_y), _halves(premium)
