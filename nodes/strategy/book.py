"""The strategy's pool book: every pool's state in struct-of-arrays, updated in compiled code.

Layout (``P`` pools, ``T`` known initialized ticks per V3 pool; u128 as ``(lo, hi)`` u64 halves,
the V3 price as three u64 words, an address as three words as :func:`read_address` gives)::

    kind    u8[P]      PoolKind (0 = free slot)     valid  u8[P]   1 = usable state
    fee     u32[P]     V2: bps; V3: ppm (pips)      spacing i32[P] V3 tick spacing
    venue   u16[P]     VenueId (which V2 factory)   block  u64[P]  block of the last update
    addr    u64[P,3]   pool address words           tok    u64[P,6] token0 words, token1 words
    dec     u8[P,2]    token decimals
    r       u64[P,4]   V2 reserve0 lo/hi, reserve1 lo/hi
    sqrt    u64[P,3]   V3 sqrtPriceX96 words        liq    u64[P,2] V3 in-range liquidity
    tick    i32[P]     V3 current tick              words  i32[P,2] known bitmap words [lo, hi]
    ticks   i32[P,T]   initialized ticks, sorted    net_lo u64[P,T], net_hi i64[P,T] liquidityNet
    nticks  i32[P]
    rate    f64[P,2]   log marginal rate after fee: [zero_for_one, one_for_zero]; -inf if unusable
    htab    i32[H]     open-addressing index address -> slot + 1 (H a power of two >= 2P)
    dirty   i32[P+1]   slots changed since the last evaluation (dirty[P] = count), flag in mark
    mark    u8[P]
    fresh   i32[P+1]   slots created since Python last looked (fresh[P] = count)
    meta    i64[M]     see the ``M_*`` indices        errors i64[E] see the ``E_*`` indices

Frames follow docs/market-data.md: ``PoolState`` replaces a pool (and drops its ticks; its known
bitmap words are those within ``word_radius`` of its tick, as the collector reads them),
``PoolTickLiquidity`` sets one tick, ``PoolSync`` a V2 pair's reserves, a V3 ``PoolSwap`` the
price/tick/liquidity, V3 ``PoolMint``/``PoolBurn`` the in-range liquidity, ``PoolInvalidation``
makes a pool unusable until its next ``PoolState``, ``BlockEnd`` closes a block: the book is
consistent and the strategy evaluates the dirty pools. Every frame is untrusted: lengths are
checked before any read, a bad value is counted (``errors``) and the frame skipped.
Thread safety: one thread (the node's loop) owns the arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from contracts.swapmath.pools import V2Pool, V3Pool
from contracts.v3math import MAX_TICK, MIN_TICK
from mesh.protocol.constants import EXTENDED_TLV_MARKER, HEADER_SIZE, PoolKind
from mesh.protocol.kernels import (
    frame_length,
    load_i32,
    load_u16,
    load_u64,
    read_address,
    read_pool_mint_burn,
    read_pool_state,
    read_pool_swap,
    read_pool_sync,
    read_u128,
)
from mesh.protocol.messages import (
    BlockEnd,
    PoolBurn,
    PoolInvalidation,
    PoolMint,
    PoolState,
    PoolSwap,
    PoolSync,
    PoolTickLiquidity,
)
from nodes.strategy.fastcall import Kernel

KIND_V2 = np.uint8(PoolKind.UNISWAP_V2)
KIND_V3 = np.uint8(PoolKind.UNISWAP_V3)

# meta indices
M_POOLS, M_BLOCK_ENDS, M_BLOCK, M_BASE_FEE, M_TIP, M_BLOCK_TS, M_RECEIVED, M_RADIUS, M_CHAIN = range(9)
M_SIZE = 16
# error indices, and their names for the node's counters
E_UNKNOWN_POOL, E_BAD_TLV, E_TICKS_FULL, E_BOOK_FULL, E_BAD_VALUE, E_WRONG_KIND, E_REJECTED = range(7)
ERROR_KINDS = ("unknown_pool", "bad_tlv", "ticks_full", "book_full", "bad_value", "wrong_kind",
               "ring_frame_rejected")

_T_STATE, _T_SYNC, _T_SWAP = PoolState.TLV_TYPE, PoolSync.TLV_TYPE, PoolSwap.TLV_TYPE
_T_MINT, _T_BURN, _T_TICK = PoolMint.TLV_TYPE, PoolBurn.TLV_TYPE, PoolTickLiquidity.TLV_TYPE
_T_INVALID, _T_BLOCK_END = PoolInvalidation.TLV_TYPE, BlockEnd.TLV_TYPE
_N_STATE, _N_SYNC, _N_SWAP = PoolState.LAYOUT.size, PoolSync.LAYOUT.size, PoolSwap.LAYOUT.size
_N_MB, _N_TICK = PoolMint.LAYOUT.size, PoolTickLiquidity.LAYOUT.size
_N_INVALID, _N_BLOCK_END = PoolInvalidation.LAYOUT.size, BlockEnd.LAYOUT.size
_O_STATE, _O_SYNC, _O_SWAP = (PoolState.LAYOUT.offsets, PoolSync.LAYOUT.offsets,
                              PoolSwap.LAYOUT.offsets)
_O_MB, _O_TICK, _O_INV, _O_END = (PoolMint.LAYOUT.offsets, PoolTickLiquidity.LAYOUT.offsets,
                                  PoolInvalidation.LAYOUT.offsets, BlockEnd.LAYOUT.offsets)
ST_POOL, ST_TOK0, ST_TOK1 = _O_STATE["pool_address"], _O_STATE["token0_addr"], _O_STATE["token1_addr"]
ST_VENUE, ST_DEC0, ST_DEC1 = _O_STATE["venue"], _O_STATE["token0_decimals"], _O_STATE["token1_decimals"]
SY_POOL, SW_POOL, SW_SQRT = _O_SYNC["pool_address"], _O_SWAP["pool_address"], _O_SWAP["sqrt_price_x96_after"]
SW_BLOCK, MB_POOL = _O_SWAP["block_number"], _O_MB["pool_address"]
TK_NET, TK_GROSS, TK_TICK, TK_POOL = (_O_TICK["liquidity_net"], _O_TICK["liquidity_gross"],
                                      _O_TICK["tick"], _O_TICK["pool_address"])
TK_BLOCK, INV_POOL, INV_BLOCK = _O_TICK["block_number"], _O_INV["pool_address"], _O_INV["block_number"]
END_BASE, END_TIP, END_BLOCK = _O_END["next_base_fee_wei"], _O_END["priority_fee_wei"], _O_END["block_number"]
END_TS, END_RECEIVED, END_CHAIN = _O_END["block_timestamp_ns"], _O_END["received_ns"], _O_END["chain_id"]

_TWO64 = 18446744073709551616.0
_LN2 = math.log(2.0)
_MIN_TICK, _MAX_TICK = MIN_TICK, MAX_TICK


def tick_spacing_of(fee_pips: int) -> int:
    """The tick spacing UniswapV3Factory enables for a fee (0 when it enables none)."""
    return {100: 1, 500: 10, 3000: 60, 10000: 200}.get(fee_pips, 0)


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
def _rates(b, s):
    """Recompute pool ``s``'s log marginal rates (float screen only)."""
    kind, valid, fee, r, sqrt, liq, rate = b[0], b[1], b[2], b[8], b[9], b[10], b[15]
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
def _touch(b, s):
    mark, dirty = b[18], b[17]
    if mark[s] == 0:
        mark[s] = 1
        n = dirty[dirty.shape[0] - 1]
        dirty[n] = s
        dirty[dirty.shape[0] - 1] = n + 1


@njit(cache=True)
def _word_range(tick, spacing, radius):
    lowest = (-((-_MIN_TICK) // spacing)) >> 8
    highest = (_MAX_TICK // spacing) >> 8
    current = (tick // spacing) >> 8
    return max(lowest, current - radius), min(highest, current + radius)


@njit(cache=True)
def _apply_state(b, buf, v):
    (kind, valid, fee, spacing, venue, block, addr, tok, r, sqrt, liq, tick, words, _ticks,
     _nlo, _nhi, nticks, _rate, htab, _dirty, _mark, fresh, meta, errors, dec) = _unpack(b)
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
        if sp == 0 or tk < _MIN_TICK or tk > _MAX_TICK:
            errors[E_BAD_VALUE] += 1
            valid[s] = 0
            _rates(b, s)
            _touch(b, s)
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
    _rates(b, s)
    _touch(b, s)


@njit(cache=True, inline="always")
def _unpack(b):
    return (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
            b[14], b[19], b[20], b[15], b[16], b[17], b[18], b[21], b[22], b[23], b[24])


@njit(cache=True)
def _pool_at(b, buf, off, errors):
    w0, w1, w2 = read_address(buf, off)
    s = find_slot(b[16], b[6], w0, w1, w2)
    if s < 0:
        errors[E_UNKNOWN_POOL] += 1
    return s


@njit(cache=True)
def _apply_tick(b, s, buf, v):
    """Set (or clear, gross = 0) one initialized tick of pool ``s``, keeping them sorted."""
    ticks, net_lo, net_hi, nticks, errors = b[13], b[14], b[19], b[20], b[23]
    t = load_i32(buf, v + TK_TICK)
    sp = b[3][s]
    if t < _MIN_TICK or t > _MAX_TICK or sp <= 0 or t % sp != 0:
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
            b[1][s] = 0  # cannot hold the pool's ticks: unusable rather than wrong
            _rates(b, s)
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
def _add_liquidity(b, s, lo, hi, sign):
    """In-range liquidity += sign * (hi:lo), u128 with halves; False on under/overflow."""
    liq = b[10]
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


@njit(cache=True, inline="always")
def _tlv_at(data, pos, stop):
    """``(type, value_offset, value_length)`` of the TLV at ``pos``; type -1 if it does not fit."""
    if stop - pos < 2:
        return -1, 0, 0
    t = np.int64(data[pos])
    if t == EXTENDED_TLV_MARKER:
        if stop - pos < 5 or data[pos + 1] != 0:
            return -1, 0, 0
        t = np.int64(data[pos + 2])
        ln = np.int64(load_u16(data, pos + 3))
        v = pos + 5
    else:
        ln = np.int64(data[pos + 1])
        v = pos + 2
    if v + ln > stop:
        return -1, 0, 0
    return t, v, ln


@njit(cache=True, inline="always")
def _expected_size(t):
    """The value size of a TLV type the book applies (-1 for a type it skips)."""
    if t == _T_SYNC:
        return _N_SYNC
    if t == _T_SWAP:
        return _N_SWAP
    if t in (_T_MINT, _T_BURN):
        return _N_MB
    if t == _T_TICK:
        return _N_TICK
    if t == _T_STATE:
        return _N_STATE
    if t == _T_INVALID:
        return _N_INVALID
    if t == _T_BLOCK_END:
        return _N_BLOCK_END
    return -1


@njit(cache=True)
def _check_frame(data, pos, stop):
    """0 when every TLV of the frame fits and every applied type has its size; 1 for bad
    framing (``ring_frame_rejected``), 2 for an applied type of the wrong size (``bad_tlv``)."""
    while pos < stop:
        t, v, ln = _tlv_at(data, pos, stop)
        if t < 0:
            return 1
        size = _expected_size(t)
        if size >= 0 and ln != size:
            return 2
        pos = v + ln
    return 0


@njit(cache=True)
def _apply_swap(b, s, data, v):
    """A V3 PoolSwap: price, tick and liquidity after it."""
    _i0, _i1, _o0, _o1, llo, lhi, blk, tk, slo, shi = read_pool_swap(data, v)
    s2 = load_u64(data, v + SW_SQRT + 16)
    s3 = load_u64(data, v + SW_SQRT + 24)
    if s3 != 0 or s2 >= np.uint64(1 << 32) or tk < _MIN_TICK or tk > _MAX_TICK:
        b[23][E_BAD_VALUE] += 1
        b[1][s] = 0
    else:
        b[9][s, 0], b[9][s, 1], b[9][s, 2] = slo, shi, s2
        b[10][s, 0], b[10][s, 1] = llo, lhi
        b[11][s] = tk
    b[5][s] = blk


@njit(cache=True)
def _apply_position(b, s, data, v, sign):
    """A V3 PoolMint (sign 1) or PoolBurn (-1): the in-range liquidity moves when the pool's
    tick is in ``[tick_lower, tick_upper)``."""
    dlo, dhi, _a, _b, _c, _d, lower, upper = read_pool_mint_burn(data, v)
    if not (_MIN_TICK <= lower < upper <= _MAX_TICK):
        b[23][E_BAD_VALUE] += 1
        b[1][s] = 0
        return
    if lower <= b[11][s] < upper and not _add_liquidity(b, s, dlo, dhi, sign):
        b[23][E_BAD_VALUE] += 1
        b[1][s] = 0


@njit(cache=True)
def _apply_block_end(b, data, v):
    """Close the block: its number, time and fees (a fee no i64 holds is counted and the gas
    price marked unknown, -1)."""
    meta = b[22]
    blo, bhi = read_u128(data, v + END_BASE)
    tlo, thi = read_u128(data, v + END_TIP)
    if bhi != 0 or thi != 0 or blo >= np.uint64(1 << 62) or tlo >= np.uint64(1 << 62):
        b[23][E_BAD_VALUE] += 1
        meta[M_BASE_FEE] = -1
        meta[M_TIP] = -1
    else:
        meta[M_BASE_FEE] = np.int64(blo)
        meta[M_TIP] = np.int64(tlo)
    mask = np.uint64(0x7FFFFFFFFFFFFFFF)
    meta[M_BLOCK] = np.int64(load_u64(data, v + END_BLOCK) & mask)
    meta[M_BLOCK_TS] = np.int64(load_u64(data, v + END_TS) & mask)
    meta[M_RECEIVED] = np.int64(load_u64(data, v + END_RECEIVED) & mask)
    meta[M_CHAIN] = np.int64(load_u64(data, v + END_CHAIN) & mask)
    meta[M_BLOCK_ENDS] += 1


@njit(cache=True)
def apply_frames(data, offsets, first, count, b):
    """Apply frames ``first`` .. ``count - 1`` of a ring batch to the book ``b``, stopping after
    the first frame that holds a ``BlockEnd`` (the book is then consistent: evaluate it).

    Frame ``i`` is ``data[offsets[i]:offsets[i + 1]]``. A frame is applied whole or not at all:
    every TLV is checked (framing, and the size of every type the book applies) before any is
    applied, as the reference consumer decodes a whole frame first. Bad framing is counted in
    ``errors[E_REJECTED]``, a wrong size in ``errors[E_BAD_TLV]``. Returns the index of the next
    frame to apply (``count`` when the batch is done).
    """
    kind, valid, errors = b[0], b[1], b[23]
    ended = False
    f = first
    while f < count and not ended:
        off = offsets[f]
        end = offsets[f + 1]
        f += 1
        n = frame_length(data, off, end)
        if n < 0:
            errors[E_REJECTED] += 1
            continue
        pos = off + HEADER_SIZE
        stop = off + n
        check = _check_frame(data, pos, stop)
        if check != 0:
            errors[E_REJECTED if check == 1 else E_BAD_TLV] += 1
            continue
        while pos < stop:
            t, v, ln = _tlv_at(data, pos, stop)
            pos = v + ln
            if t == _T_STATE:
                _apply_state(b, data, v)
                continue
            if t == _T_BLOCK_END:
                _apply_block_end(b, data, v)
                ended = True
                continue
            if _expected_size(t) < 0:
                continue  # ChainEvent, GasPrice, ...: nothing the book keeps
            off_pool = (SY_POOL if t == _T_SYNC else SW_POOL if t == _T_SWAP else
                        MB_POOL if t in (_T_MINT, _T_BURN) else
                        TK_POOL if t == _T_TICK else INV_POOL)
            s = _pool_at(b, data, v + off_pool, errors)
            if s < 0:
                continue
            if t == _T_INVALID:
                valid[s] = 0
            elif t == _T_SYNC:
                if kind[s] != KIND_V2:
                    errors[E_WRONG_KIND] += 1
                    continue
                r0lo, r0hi, r1lo, r1hi, _ts, blk, _venue = read_pool_sync(data, v)
                b[8][s, 0], b[8][s, 1], b[8][s, 2], b[8][s, 3] = r0lo, r0hi, r1lo, r1hi
                b[5][s] = blk
            elif kind[s] != KIND_V3:
                continue  # a V2 pair's Swap/Mint/Burn change nothing its Sync does not set
            elif t == _T_SWAP:
                _apply_swap(b, s, data, v)
            elif t == _T_TICK:
                _apply_tick(b, s, data, v)
            else:
                _apply_position(b, s, data, v, 1 if t == _T_MINT else -1)
            _rates(b, s)
            _touch(b, s)
    return f


@njit(cache=True)
def _take_dirty(dirty, mark, out):
    """Move the dirty slots to ``out``, clearing their marks; how many."""
    n = dirty[dirty.shape[0] - 1]
    for i in range(n):
        s = dirty[i]
        out[i] = s
        mark[s] = 0
    dirty[dirty.shape[0] - 1] = 0
    return n


def _addr_hex(words: np.ndarray) -> str:
    raw = (int(words[0]).to_bytes(8, "little") + int(words[1]).to_bytes(8, "little")
           + int(words[2]).to_bytes(4, "little"))
    return "0x" + raw.hex()


def _u128(lo: int, hi: int) -> int:
    return int(lo) | (int(hi) << 64)


class PoolBook:
    """The arrays of the module docstring, and Python views of one pool for exact math.

    Parameters
    ----------
    capacity : int
        Most pools held; a ``PoolState`` of one more is counted as ``book_full``.
    ticks_per_pool : int
        Most initialized ticks held per V3 pool; one more makes the pool unusable (``ticks_full``).
    word_radius : int
        The collector's bootstrap radius in tick-bitmap words (its ``word_radius`` setting).
    """

    def __init__(self, capacity: int = 4096, ticks_per_pool: int = 512, word_radius: int = 8) -> None:
        p, t = capacity, ticks_per_pool
        h = 1 << max(4, (2 * p - 1).bit_length())
        self.capacity = p
        self.arrays = (
            np.zeros(p, np.uint8), np.zeros(p, np.uint8), np.zeros(p, np.uint32), np.zeros(p, np.int32),
            np.zeros(p, np.uint16), np.zeros(p, np.uint64), np.zeros((p, 3), np.uint64),
            np.zeros((p, 6), np.uint64), np.zeros((p, 4), np.uint64), np.zeros((p, 3), np.uint64),
            np.zeros((p, 2), np.uint64), np.zeros(p, np.int32), np.zeros((p, 2), np.int32),
            np.zeros((p, t), np.int32), np.zeros((p, t), np.uint64),
            np.full((p, 2), -np.inf), np.zeros(h, np.int32), np.zeros(p + 1, np.int32),
            np.zeros(p, np.uint8), np.zeros((p, t), np.int64), np.zeros(p, np.int32),
            np.zeros(p + 1, np.int32), np.zeros(M_SIZE, np.int64), np.zeros(len(ERROR_KINDS), np.int64),
            np.zeros((p, 2), np.uint8),
        )
        (self.kind, self.valid, self.fee, self.spacing, self.venue, self.block, self.addr, self.tok,
         self.r, self.sqrt, self.liq, self.tick, self.words, self.ticks, self.net_lo, self.rate,
         self.htab, self.dirty, self.mark, self.net_hi, self.nticks, self.fresh, self.meta,
         self.errors, self.dec) = self.arrays
        self.meta[M_RADIUS] = word_radius
        self._taken = np.zeros(p, np.int32)
        self._apply = Kernel(apply_frames)
        self._take = Kernel(_take_dirty)

    def apply(self, data: np.ndarray, offsets: np.ndarray, first: int, count: int) -> int:
        """Apply frames from ``first`` up to the next ``BlockEnd`` (see :func:`apply_frames`);
        returns the index of the next frame to apply. ``data`` is a uint8 array and ``offsets``
        an int64 array, C-contiguous (a ring batch's); anything else goes through numba's
        dispatch (slower, same result)."""
        if data.dtype == np.uint8 and offsets.dtype == np.int64 and data.flags.c_contiguous \
                and offsets.flags.c_contiguous and data.flags.writeable and offsets.flags.writeable:
            return int(self._apply(data, offsets, first, count, self.arrays))
        return int(apply_frames(data, offsets, first, count, self.arrays))

    @property
    def pools(self) -> int:
        """Slots in use."""
        return int(self.meta[M_POOLS])

    def slot(self, address: str) -> int:
        """The slot of a pool address (-1 when unknown)."""
        raw = bytes.fromhex(address[2:] if address.startswith("0x") else address)
        w = np.frombuffer(raw[:16], "<u8")
        return int(find_slot(self.htab, self.addr, w[0], w[1], np.uint64(int.from_bytes(raw[16:], "little"))))

    def address(self, s: int) -> str:
        """A slot's pool address, lower-case hex."""
        return _addr_hex(self.addr[s])

    def tokens(self, s: int) -> tuple[str, str]:
        """A slot's token0 and token1, lower-case hex."""
        return _addr_hex(self.tok[s, :3]), _addr_hex(self.tok[s, 3:])

    def take_dirty(self) -> np.ndarray:
        """The slots changed since the last call (and clear the list): a view of a buffer the
        next call overwrites."""
        n = self._take(self.dirty, self.mark, self._taken)
        return self._taken[:n]

    def take_fresh(self) -> np.ndarray:
        """The slots created since the last call (and clear the list)."""
        n = int(self.fresh[-1])
        out = self.fresh[:n].copy()
        self.fresh[-1] = 0
        return out

    def model(self, s: int) -> V2Pool | V3Pool:
        """Pool ``s`` as the exact reference's value (``contracts.swapmath``): Python ints."""
        t0, t1 = self.tokens(s)
        if self.kind[s] == KIND_V2:
            r = self.r[s]
            return V2Pool(self.address(s), t0, t1, _u128(r[0], r[1]), _u128(r[2], r[3]), 0, int(self.fee[s]))
        n = int(self.nticks[s])
        ticks = tuple(int(t) for t in self.ticks[s, :n])
        net = {t: _u128(self.net_lo[s, i], int(self.net_hi[s, i]) & (2**64 - 1)) for i, t in enumerate(ticks)}
        net = {t: v - 2**128 if v >= 2**127 else v for t, v in net.items()}
        sq = self.sqrt[s]
        return V3Pool(self.address(s), t0, t1, int(self.fee[s]), int(self.spacing[s]),
                      _u128(sq[0], sq[1]) | (int(sq[2]) << 128), int(self.tick[s]),
                      _u128(self.liq[s, 0], self.liq[s, 1]), ticks, net, dict.fromkeys(ticks, 1),
                      int(self.words[s, 0]), int(self.words[s, 1]))

    def error_counts(self) -> dict[str, int]:
        """Counts of bad input by kind since the start."""
        return {k: int(v) for k, v in zip(ERROR_KINDS, self.errors, strict=True)}
