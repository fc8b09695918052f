"""The book's compiled pool updates: the address index, a pool's float rates, a ``PoolState``,
a tick's liquidity and the in-range liquidity (u128 in two halves).

Every function takes the book's array tuple ``b`` (:mod:`nodes.strategy.layout`). Thread safety:
the caller owns the arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from contracts.v3math import MAX_TICK, MIN_TICK
from mesh.protocol.kernels import load_i32, load_u16, read_address, read_pool_state, read_u128
from nodes.strategy.layout import (
    A_ADDR,
    A_BLOCK,
    A_DEC,
    A_DIRTY,
    A_ERRORS,
    A_FEE,
    A_FRESH,
    A_HTAB,
    A_KIND,
    A_LIQ,
    A_MARK,
    A_META,
    A_NET_HI,
    A_NET_LO,
    A_NTICKS,
    A_R,
    A_RATE,
    A_SPACING,
    A_SQRT,
    A_TICK,
    A_TICKS,
    A_TOK,
    A_VALID,
    A_VENUE,
    A_WORDS,
    E_BAD_VALUE,
    E_BOOK_FULL,
    E_TICKS_FULL,
    E_UNKNOWN_POOL,
    E_WRONG_KIND,
    KIND_V2,
    KIND_V3,
    M_POOLS,
    M_RADIUS,
    ST_DEC0,
    ST_DEC1,
    ST_POOL,
    ST_TOK0,
    ST_TOK1,
    ST_VENUE,
    TK_GROSS,
    TK_NET,
    TK_TICK,
)

_TWO64 = 18446744073709551616.0
_LN2 = math.log(2.0)
TICK_MIN, TICK_MAX = MIN_TICK, MAX_TICK


@njit(cache=True, inline="always")
def _spacing(fee):
    if fee == 100:
        return 1
    if fee == 500:
        return 10
    if fee == 3000:
        return 60
    if fee == 10000:
        return 200
    return 0


@njit(cache=True, inline="always")
def _hash(w0, w1, w2, mask):
    h = (w0 ^ (w1 * np.uint64(0x9E3779B97F4A7C15)) ^ (w2 * np.uint64(0xC2B2AE3D27D4EB4F)))
    return np.int64((h >> np.uint64(17)) & np.uint64(mask))


@njit(cache=True)
def find_slot(htab, addr, w0, w1, w2):
    """The slot of the pool with address words ``(w0, w1, w2)``, or -1."""
    mask = htab.shape[0] - 1
    i = _hash(w0, w1, w2, mask)
    while True:
        s = htab[i]
        if s == 0:
            return -1
        s -= 1
        if addr[s, 0] == w0 and addr[s, 1] == w1 and addr[s, 2] == w2:
            return s
        i = (i + 1) & mask


@njit(cache=True)
def _insert(htab, addr, meta, w0, w1, w2):
    n = meta[M_POOLS]
    if n >= addr.shape[0]:
        return -1
    mask = htab.shape[0] - 1
    i = _hash(w0, w1, w2, mask)
    while htab[i] != 0:
        i = (i + 1) & mask
    htab[i] = n + 1
    addr[n, 0] = w0
    addr[n, 1] = w1
    addr[n, 2] = w2
    meta[M_POOLS] = n + 1
    return n


@njit(cache=True, inline="always")
def _u128_float(lo, hi):
    return np.float64(lo) + np.float64(hi) * _TWO64


@njit(cache=True)
def rates(b, s):
    """Recompute pool ``s``'s log marginal rates (float screen only)."""
    kind, valid, fee, r, sqrt, liq, rate = b[A_KIND], b[A_VALID], b[A_FEE], b[A_R], b[A_SQRT], b[A_LIQ], b[A_RATE]
    ninf = -np.inf
    if valid[s] == 0:
        rate[s, 0] = ninf
        rate[s, 1] = ninf
        return
    if kind[s] == KIND_V2:
        r0 = _u128_float(r[s, 0], r[s, 1])
        r1 = _u128_float(r[s, 2], r[s, 3])
        if r0 <= 0.0 or r1 <= 0.0 or fee[s] >= 10000:
            rate[s, 0] = ninf
            rate[s, 1] = ninf
            return
        keep = math.log(1.0 - fee[s] / 10000.0)
        d = math.log(r1) - math.log(r0)
        rate[s, 0] = d + keep
        rate[s, 1] = -d + keep
        return
    p = np.float64(sqrt[s, 0]) + np.float64(sqrt[s, 1]) * _TWO64 + np.float64(sqrt[s, 2]) * _TWO64 * _TWO64
    if p <= 0.0 or (liq[s, 0] == 0 and liq[s, 1] == 0):
        rate[s, 0] = ninf
        rate[s, 1] = ninf
        return
    keep = math.log(1.0 - fee[s] / 1e6)
    d = 2.0 * (math.log(p) - 96.0 * _LN2)
    rate[s, 0] = d + keep
    rate[s, 1] = -d + keep


@njit(cache=True, inline="always")
def touch(b, s):
    mark, dirty = b[A_MARK], b[A_DIRTY]
    if mark[s] == 0:
        mark[s] = 1
        n = dirty[dirty.shape[0] - 1]
        dirty[n] = s
        dirty[dirty.shape[0] - 1] = n + 1


@njit(cache=True)
def _word_range(tick, spacing, radius):
    lowest = (-((-TICK_MIN) // spacing)) >> 8
    highest = (TICK_MAX // spacing) >> 8
    current = (tick // spacing) >> 8
    return max(lowest, current - radius), min(highest, current + radius)


@njit(cache=True)
def apply_state(b, buf, v):
    kind, valid, fee, spacing, venue, block = b[A_KIND], b[A_VALID], b[A_FEE], b[A_SPACING], b[A_VENUE], b[A_BLOCK]
    addr, tok, r, sqrt, liq, tick, words = b[A_ADDR], b[A_TOK], b[A_R], b[A_SQRT], b[A_LIQ], b[A_TICK], b[A_WORDS]
    nticks, htab, fresh, meta, errors, dec = b[A_NTICKS], b[A_HTAB], b[A_FRESH], b[A_META], b[A_ERRORS], b[A_DEC]
    w0, w1, w2 = read_address(buf, v + ST_POOL)
    r0lo, r0hi, r1lo, r1hi, slo, shi, llo, lhi, blk, tk, fee_bps, ptype = read_pool_state(buf, v)
    if ptype > 3:  # Curve, Balancer, ...: not a Uniswap pool, no math here prices it
        errors[E_WRONG_KIND] += 1
        return
    v3 = ptype == 1 or ptype == 3
    s = find_slot(htab, addr, w0, w1, w2)
    if s < 0:
        s = _insert(htab, addr, meta, w0, w1, w2)
        if s < 0:
            errors[E_BOOK_FULL] += 1
            return
        nf = fresh[fresh.shape[0] - 1]
        fresh[nf] = s
        fresh[fresh.shape[0] - 1] = nf + 1
        a0, a1, a2 = read_address(buf, v + ST_TOK0)
        c0, c1, c2 = read_address(buf, v + ST_TOK1)
        tok[s, 0], tok[s, 1], tok[s, 2], tok[s, 3], tok[s, 4], tok[s, 5] = a0, a1, a2, c0, c1, c2
        dec[s, 0] = buf[v + ST_DEC0]
        dec[s, 1] = buf[v + ST_DEC1]
        venue[s] = load_u16(buf, v + ST_VENUE)
        kind[s] = KIND_V3 if v3 else KIND_V2
    elif kind[s] != (KIND_V3 if v3 else KIND_V2):
        errors[E_WRONG_KIND] += 1
        return
    block[s] = blk
    nticks[s] = 0
    if v3:
        pips = np.uint32(fee_bps) * np.uint32(100)
        sp = _spacing(pips)
        if sp == 0 or tk < TICK_MIN or tk > TICK_MAX:
            errors[E_BAD_VALUE] += 1
            valid[s] = 0
            rates(b, s)
            touch(b, s)
            return
        fee[s] = pips
        spacing[s] = sp
        sqrt[s, 0], sqrt[s, 1], sqrt[s, 2] = slo, shi, 0
        liq[s, 0], liq[s, 1] = llo, lhi
        tick[s] = tk
        lo, hi = _word_range(np.int64(tk), np.int64(sp), meta[M_RADIUS])
        words[s, 0], words[s, 1] = lo, hi
        valid[s] = 1 if (slo != 0 or shi != 0) else 0  # created but not initialized yet
    else:
        fee[s] = fee_bps
        r[s, 0], r[s, 1], r[s, 2], r[s, 3] = r0lo, r0hi, r1lo, r1hi
        valid[s] = 1
        if fee_bps >= 10000:
            errors[E_BAD_VALUE] += 1
            valid[s] = 0
    rates(b, s)
    touch(b, s)


@njit(cache=True)
def pool_at(b, buf, off, errors):
    w0, w1, w2 = read_address(buf, off)
    s = find_slot(b[A_HTAB], b[A_ADDR], w0, w1, w2)
    if s < 0:
        errors[E_UNKNOWN_POOL] += 1
    return s


@njit(cache=True)
def apply_tick(b, s, buf, v):
    """Set (or clear, gross = 0) one initialized tick of pool ``s``, keeping them sorted."""
    ticks, net_lo, net_hi, nticks, errors = b[A_TICKS], b[A_NET_LO], b[A_NET_HI], b[A_NTICKS], b[A_ERRORS]
    t = load_i32(buf, v + TK_TICK)
    sp = b[A_SPACING][s]
    if t < TICK_MIN or t > TICK_MAX or sp <= 0 or t % sp != 0:
        errors[E_BAD_VALUE] += 1
        return
    glo, ghi = read_u128(buf, v + TK_GROSS)
    nlo, nhi = read_u128(buf, v + TK_NET)
    n = nticks[s]
    i = 0
    while i < n and ticks[s, i] < t:
        i += 1
    present = i < n and ticks[s, i] == t
    if glo == 0 and ghi == 0:
        if present:
            for j in range(i, n - 1):
                ticks[s, j] = ticks[s, j + 1]
                net_lo[s, j] = net_lo[s, j + 1]
                net_hi[s, j] = net_hi[s, j + 1]
            nticks[s] = n - 1
        return
    if not present:
        if n >= ticks.shape[1]:
            errors[E_TICKS_FULL] += 1
            b[A_VALID][s] = 0  # cannot hold the pool's ticks: unusable rather than wrong
            rates(b, s)
            return
        for j in range(n, i, -1):
            ticks[s, j] = ticks[s, j - 1]
            net_lo[s, j] = net_lo[s, j - 1]
            net_hi[s, j] = net_hi[s, j - 1]
        ticks[s, i] = t
        nticks[s] = n + 1
    net_lo[s, i] = nlo
    net_hi[s, i] = np.int64(nhi)


@njit(cache=True)
def add_liquidity(b, s, lo, hi, sign):
    """In-range liquidity += sign * (hi:lo), u128 with halves; False on under/overflow."""
    liq = b[A_LIQ]
    a_lo, a_hi = liq[s, 0], liq[s, 1]
    if sign > 0:
        n_lo = a_lo + lo
        carry = np.uint64(1) if n_lo < a_lo else np.uint64(0)
        room = ~a_hi  # 2**64 - 1 - a_hi
        if hi > room or (hi == room and carry != 0):
            return False
        n_hi = a_hi + hi + carry
    else:
        if a_hi < hi or (a_hi == hi and a_lo < lo):
            return False
        n_lo = a_lo - lo
        borrow = np.uint64(1) if a_lo < lo else np.uint64(0)
        n_hi = a_hi - hi - borrow
    liq[s, 0], liq[s, 1] = n_lo, n_hi
    return True


