"""The book's frame walk: a ring batch applied frame by frame, each whole or not at all, up to
the next ``BlockEnd``; and the hand-over of the changed slots.

Frames follow docs/market-data.md: ``PoolState`` replaces a pool (and drops its ticks; its known
bitmap words are those within ``word_radius`` of its tick, as the collector reads them),
``PoolTickLiquidity`` sets one tick, ``PoolSync`` a V2 pair's reserves, a V3 ``PoolSwap`` the
price/tick/liquidity, V3 ``PoolMint``/``PoolBurn`` the in-range liquidity, ``PoolInvalidation``
makes a pool unusable until its next ``PoolState``, ``BlockEnd`` closes a block: the book is
consistent and the strategy evaluates the dirty pools. Every frame is untrusted: lengths are
checked before any read, a bad value is counted (``errors``) and the frame skipped.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mesh.protocol.constants import HEADER_SIZE
from mesh.protocol.kernels import (
    frame_length,
    load_u64,
    read_pool_mint_burn,
    read_pool_swap,
    read_pool_sync,
    read_u128,
    tlv_at,
)
from nodes.strategy.kernels import (
    TICK_MAX,
    TICK_MIN,
    add_liquidity,
    apply_state,
    apply_tick,
    pool_at,
    rates,
    touch,
)
from nodes.strategy.layout import (
    A_BLOCK,
    A_ERRORS,
    A_KIND,
    A_LIQ,
    A_META,
    A_R,
    A_SQRT,
    A_TICK,
    A_VALID,
    E_BAD_TLV,
    E_BAD_VALUE,
    E_REJECTED,
    E_WRONG_KIND,
    END_BASE,
    END_BLOCK,
    END_CHAIN,
    END_RECEIVED,
    END_TIP,
    END_TS,
    INV_POOL,
    KIND_V2,
    KIND_V3,
    M_BASE_FEE,
    M_BLOCK,
    M_BLOCK_ENDS,
    M_BLOCK_TS,
    M_CHAIN,
    M_RECEIVED,
    M_TIP,
    MB_POOL,
    N_BLOCK_END,
    N_INVALID,
    N_MB,
    N_STATE,
    N_SWAP,
    N_SYNC,
    N_TICK,
    SW_POOL,
    SW_SQRT,
    SY_POOL,
    T_BLOCK_END,
    T_BURN,
    T_INVALID,
    T_MINT,
    T_STATE,
    T_SWAP,
    T_SYNC,
    T_TICK,
    TK_POOL,
)


@njit(cache=True, inline="always")
def _expected_size(t):
    """The value size of a TLV type the book applies (-1 for a type it skips)."""
    if t == T_SYNC:
        return N_SYNC
    if t == T_SWAP:
        return N_SWAP
    if t in (T_MINT, T_BURN):
        return N_MB
    if t == T_TICK:
        return N_TICK
    if t == T_STATE:
        return N_STATE
    if t == T_INVALID:
        return N_INVALID
    if t == T_BLOCK_END:
        return N_BLOCK_END
    return -1


@njit(cache=True)
def _check_frame(data, pos, stop):
    """0 when every TLV of the frame fits and every applied type has its size; 1 for bad
    framing (``ring_frame_rejected``), 2 for an applied type of the wrong size (``bad_tlv``)."""
    while pos < stop:
        t, v, ln = tlv_at(data, pos, stop)
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
    if s3 != 0 or s2 >= np.uint64(1 << 32) or tk < TICK_MIN or tk > TICK_MAX:
        b[A_ERRORS][E_BAD_VALUE] += 1
        b[A_VALID][s] = 0
    else:
        b[A_SQRT][s, 0], b[A_SQRT][s, 1], b[A_SQRT][s, 2] = slo, shi, s2
        b[A_LIQ][s, 0], b[A_LIQ][s, 1] = llo, lhi
        b[A_TICK][s] = tk
    b[A_BLOCK][s] = blk


@njit(cache=True)
def _apply_position(b, s, data, v, sign):
    """A V3 PoolMint (sign 1) or PoolBurn (-1): the in-range liquidity moves when the pool's
    tick is in ``[tick_lower, tick_upper)``."""
    dlo, dhi, _a, _b, _c, _d, lower, upper = read_pool_mint_burn(data, v)
    if not (TICK_MIN <= lower < upper <= TICK_MAX):
        b[A_ERRORS][E_BAD_VALUE] += 1
        b[A_VALID][s] = 0
        return
    if lower <= b[A_TICK][s] < upper and not add_liquidity(b, s, dlo, dhi, sign):
        b[A_ERRORS][E_BAD_VALUE] += 1
        b[A_VALID][s] = 0


@njit(cache=True)
def _apply_block_end(b, data, v):
    """Close the block: its number, time and fees (a fee no i64 holds is counted and the gas
    price marked unknown, -1)."""
    meta = b[A_META]
    blo, bhi = read_u128(data, v + END_BASE)
    tlo, thi = read_u128(data, v + END_TIP)
    if bhi != 0 or thi != 0 or blo >= np.uint64(1 << 62) or tlo >= np.uint64(1 << 62):
        b[A_ERRORS][E_BAD_VALUE] += 1
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
    kind, valid, errors = b[A_KIND], b[A_VALID], b[A_ERRORS]
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
            t, v, ln = tlv_at(data, pos, stop)
            pos = v + ln
            if t == T_STATE:
                apply_state(b, data, v)
                continue
            if t == T_BLOCK_END:
                _apply_block_end(b, data, v)
                ended = True
                continue
            if _expected_size(t) < 0:
                continue  # ChainEvent, GasPrice, ...: nothing the book keeps
            off_pool = (SY_POOL if t == T_SYNC else SW_POOL if t == T_SWAP else
                        MB_POOL if t in (T_MINT, T_BURN) else
                        TK_POOL if t == T_TICK else INV_POOL)
            s = pool_at(b, data, v + off_pool, errors)
            if s < 0:
                continue
            if t == T_INVALID:
                valid[s] = 0
            elif t == T_SYNC:
                if kind[s] != KIND_V2:
                    errors[E_WRONG_KIND] += 1
                    continue
                r0lo, r0hi, r1lo, r1hi, _ts, blk, _venue = read_pool_sync(data, v)
                b[A_R][s, 0], b[A_R][s, 1], b[A_R][s, 2], b[A_R][s, 3] = r0lo, r0hi, r1lo, r1hi
                b[A_BLOCK][s] = blk
            elif kind[s] != KIND_V3:
                continue  # a V2 pair's Swap/Mint/Burn change nothing its Sync does not set
            elif t == T_SWAP:
                _apply_swap(b, s, data, v)
            elif t == T_TICK:
                apply_tick(b, s, data, v)
            else:
                _apply_position(b, s, data, v, 1 if t == T_MINT else -1)
            rates(b, s)
            touch(b, s)
    return f


@njit(cache=True)
def take_dirty_slots(dirty, mark, out):
    """Move the dirty slots to ``out``, clearing their marks; how many."""
    n = dirty[dirty.shape[0] - 1]
    for i in range(n):
        s = dirty[i]
        out[i] = s
        mark[s] = 0
    dirty[dirty.shape[0] - 1] = 0
    return n


