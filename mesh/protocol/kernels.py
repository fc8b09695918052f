"""numba kernels that read hot market-data types straight out of a byte buffer.

Offsets come from the one layout definition of each type (``Type.LAYOUT.offsets``); numba
freezes these module constants at compile time, so the Python codec and the kernels cannot
drift apart. TLV values sit at unaligned offsets (docs/wire-format.md §3), so loads go through
:func:`load_u64` and friends, intrinsics that emit one unaligned little-endian load. u128
fields come back as two u64 halves (``lo``, ``hi``); addresses as three words
(:func:`read_address`: bytes 0-7 and 8-15 as little-endian u64, 16-19 as u32).

The kernels never read outside ``buf``: every frame and TLV length is checked against the
buffer first, so hostile bytes give an error count, not a crash. The Python codec
(:func:`mesh.protocol.decode_frame`) is the reference path; tests compare the two.
Thread safety: pure functions over caller-owned arrays.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic

from mesh.protocol.constants import EXTENDED_TLV_MARKER, HEADER_SIZE, MAGIC
from mesh.protocol.header import PAYLOAD_SIZE_OFFSET
from mesh.protocol.messages import PoolBurn, PoolMint, PoolState, PoolSwap, PoolSync, Quote, Trade


def _make_load(bits: int, signed: bool):
    result = getattr(types, f"{'int' if signed else 'uint'}{bits}")

    @intrinsic
    def load(typingctx, arr, off):
        sig = result(arr, types.intp)

        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), ir.IntType(bits).as_pointer())
            return builder.load(ptr, align=1)
        return sig, codegen
    load.__doc__ = f"Unaligned little-endian {'i' if signed else 'u'}{bits} at ``arr[off]``."
    return load


load_u16 = _make_load(16, False)
load_u32 = _make_load(32, False)
load_u64 = _make_load(64, False)
load_i32 = _make_load(32, True)
load_i64 = _make_load(64, True)

# Offsets, from the layouts (one definition per type).
MAGIC_U32 = np.uint32(MAGIC)
PAYLOAD_SIZE = PAYLOAD_SIZE_OFFSET
TYPE_POOL_SYNC = PoolSync.TLV_TYPE
TYPE_POOL_SWAP = PoolSwap.TLV_TYPE
TYPE_POOL_STATE = PoolState.TLV_TYPE
TYPE_POOL_MINT = PoolMint.TLV_TYPE
TYPE_POOL_BURN = PoolBurn.TLV_TYPE
TYPE_TRADE = Trade.TLV_TYPE
TYPE_QUOTE = Quote.TLV_TYPE
SIZE_POOL_SYNC = PoolSync.LAYOUT.size
_SY = PoolSync.LAYOUT.offsets
_SW = PoolSwap.LAYOUT.offsets
_ST = PoolState.LAYOUT.offsets
_MB = PoolMint.LAYOUT.offsets
_TR = Trade.LAYOUT.offsets
_QU = Quote.LAYOUT.offsets
SY_R0, SY_R1, SY_TS, SY_BLOCK = _SY["reserve0"], _SY["reserve1"], _SY["timestamp_ns"], _SY["block_number"]
SY_VENUE, SY_POOL = _SY["venue"], _SY["pool_address"]
SW_IN, SW_OUT, SW_LIQ = _SW["amount_in"], _SW["amount_out"], _SW["liquidity_after"]
SW_TS, SW_BLOCK, SW_TICK = _SW["timestamp_ns"], _SW["block_number"], _SW["tick_after"]
SW_POOL, SW_TOKEN_IN, SW_SQRT = _SW["pool_address"], _SW["token_in_addr"], _SW["sqrt_price_x96_after"]
ST_R0, ST_R1, ST_SQRT, ST_LIQ = _ST["reserve0"], _ST["reserve1"], _ST["sqrt_price_x96"], _ST["liquidity"]
ST_BLOCK, ST_TICK, ST_FEE, ST_KIND, ST_POOL = (_ST["block_number"], _ST["tick"], _ST["fee_rate"],
                                               _ST["pool_type"], _ST["pool_address"])
MB_LIQ, MB_A0, MB_A1 = _MB["liquidity_delta"], _MB["amount0"], _MB["amount1"]
MB_LOWER, MB_UPPER, MB_POOL = _MB["tick_lower"], _MB["tick_upper"], _MB["pool_address"]
TR_ASSET, TR_PRICE, TR_VOLUME, TR_TS, TR_VENUE, TR_SIDE = (
    _TR["asset_id"], _TR["price"], _TR["volume"], _TR["execution_timestamp_ns"], _TR["venue"],
    _TR["side"])
QU_ASSET, QU_BID, QU_BID_SIZE, QU_ASK, QU_ASK_SIZE, QU_VENUE = (
    _QU["asset_id"], _QU["bid_price"], _QU["bid_size"], _QU["ask_price"], _QU["ask_size"],
    _QU["venue"])


@njit(cache=True, inline="always")
def read_u128(buf, off):
    """A u128 field as ``(lo, hi)`` u64 halves."""
    return load_u64(buf, off), load_u64(buf, off + 8)


@njit(cache=True, inline="always")
def read_address(buf, off):
    """A 20-byte address as three words ``(bytes 0-7, bytes 8-15, bytes 16-19)``, LE."""
    return load_u64(buf, off), load_u64(buf, off + 8), load_u32(buf, off + 16)


@njit(cache=True)
def frame_length(buf, off, end):
    """Length of the frame at ``buf[off:]``, or -1 if no whole frame with valid magic is there."""
    if end - off < HEADER_SIZE or load_u32(buf, off) != MAGIC_U32:
        return -1
    n = HEADER_SIZE + np.int64(load_u32(buf, off + PAYLOAD_SIZE))
    if n > end - off:
        return -1
    return n


@njit(cache=True, inline="always")
def tlv_at(buf, pos, end):
    """``(type, value_offset, value_length)`` of the TLV at ``buf[pos:]`` (standard or extended
    form) within a frame ending at ``end``; type -1 when its header or value does not fit."""
    if end - pos < 2:
        return -1, 0, 0
    t = np.int64(buf[pos])
    if t == EXTENDED_TLV_MARKER:
        if end - pos < 5 or buf[pos + 1] != 0:
            return -1, 0, 0
        t = np.int64(buf[pos + 2])
        n = np.int64(load_u16(buf, pos + 3))
        value = pos + 5
    else:
        n = np.int64(buf[pos + 1])
        value = pos + 2
    if value + n > end:
        return -1, 0, 0
    return t, value, n


@njit(cache=True)
def find_tlv(buf, off, length, tlv_type):
    """``(value_offset, value_length)`` of the first TLV of ``tlv_type`` in the frame at
    ``buf[off:off+length]``; ``(-1, 0)`` if absent, ``(-2, 0)`` if the TLVs are malformed."""
    pos = off + HEADER_SIZE
    end = off + length
    while pos < end:
        t, value, n = tlv_at(buf, pos, end)
        if t < 0:
            return -2, 0
        if t == tlv_type:
            return value, n
        pos = value + n
    return -1, 0


@njit(cache=True, inline="always")
def read_pool_sync(buf, v):
    """PoolSync at value offset ``v``: (r0_lo, r0_hi, r1_lo, r1_hi, timestamp_ns, block, venue)."""
    r0lo, r0hi = read_u128(buf, v + SY_R0)
    r1lo, r1hi = read_u128(buf, v + SY_R1)
    return (r0lo, r0hi, r1lo, r1hi, load_u64(buf, v + SY_TS), load_u64(buf, v + SY_BLOCK),
            load_u16(buf, v + SY_VENUE))


@njit(cache=True, inline="always")
def read_pool_swap(buf, v):
    """PoolSwap: (in_lo, in_hi, out_lo, out_hi, liq_lo, liq_hi, block, tick, sqrt_lo, sqrt_hi)."""
    ilo, ihi = read_u128(buf, v + SW_IN)
    olo, ohi = read_u128(buf, v + SW_OUT)
    llo, lhi = read_u128(buf, v + SW_LIQ)
    slo, shi = read_u128(buf, v + SW_SQRT)
    return (ilo, ihi, olo, ohi, llo, lhi, load_u64(buf, v + SW_BLOCK),
            load_i32(buf, v + SW_TICK), slo, shi)


@njit(cache=True, inline="always")
def read_pool_state(buf, v):
    """PoolState: (r0 lo/hi, r1 lo/hi, sqrt lo/hi, liq lo/hi, block, tick, fee_rate, pool_type)."""
    a, b = read_u128(buf, v + ST_R0)
    c, d = read_u128(buf, v + ST_R1)
    e, f = read_u128(buf, v + ST_SQRT)
    g, h = read_u128(buf, v + ST_LIQ)
    return (a, b, c, d, e, f, g, h, load_u64(buf, v + ST_BLOCK), load_i32(buf, v + ST_TICK),
            load_u32(buf, v + ST_FEE), np.int64(buf[v + ST_KIND]))


@njit(cache=True, inline="always")
def read_pool_mint_burn(buf, v):
    """PoolMint/PoolBurn: (liq lo/hi, amount0 lo/hi, amount1 lo/hi, tick_lower, tick_upper)."""
    a, b = read_u128(buf, v + MB_LIQ)
    c, d = read_u128(buf, v + MB_A0)
    e, f = read_u128(buf, v + MB_A1)
    return a, b, c, d, e, f, load_i32(buf, v + MB_LOWER), load_i32(buf, v + MB_UPPER)


@njit(cache=True, inline="always")
def read_trade(buf, v):
    """Trade: (asset_id, price, volume, exec_ts, venue, side)."""
    return (load_u64(buf, v + TR_ASSET), load_i64(buf, v + TR_PRICE),
            load_i64(buf, v + TR_VOLUME), load_u64(buf, v + TR_TS),
            load_u16(buf, v + TR_VENUE), np.int64(buf[v + TR_SIDE]))


@njit(cache=True, inline="always")
def read_quote(buf, v):
    """Quote: (asset_id, bid, bid_size, ask, ask_size, venue)."""
    return (load_u64(buf, v + QU_ASSET), load_i64(buf, v + QU_BID), load_i64(buf, v + QU_BID_SIZE),
            load_i64(buf, v + QU_ASK), load_i64(buf, v + QU_ASK_SIZE), load_u16(buf, v + QU_VENUE))


@njit(cache=True)
def scan_pool_syncs(buf, end, reserves, blocks, pools):
    """Walk back-to-back frames in ``buf[:end]`` and extract every PoolSync.

    Writes reserves as ``reserves[i] = (r0_lo, r0_hi, r1_lo, r1_hi)`` (uint64 ``(n, 4)``),
    ``blocks[i]``, and the pool address words into ``pools[i]`` (uint64 ``(n, 3)``). Stops when
    the output is full. Returns ``(syncs, frames, errors, consumed)``. A frame whose TLVs are
    malformed (or whose PoolSync has the wrong size) counts one error and is skipped, since its
    length still says where the next frame starts; bad magic or a length past the buffer counts
    one error and ends the scan at ``consumed``.
    """
    pos = 0
    count = 0
    frames = 0
    errors = 0
    cap = blocks.shape[0]
    while pos < end and count < cap:
        n = frame_length(buf, pos, end)
        if n < 0:
            errors += 1
            break
        v, vlen = find_tlv(buf, pos, n, TYPE_POOL_SYNC)
        if v == -2 or (v >= 0 and vlen != SIZE_POOL_SYNC):
            errors += 1
        elif v >= 0:
            r0lo, r0hi, r1lo, r1hi, _ts, block, _venue = read_pool_sync(buf, v)
            reserves[count, 0] = r0lo
            reserves[count, 1] = r0hi
            reserves[count, 2] = r1lo
            reserves[count, 3] = r1hi
            blocks[count] = block
            w0, w1, w2 = read_address(buf, v + SY_POOL)
            pools[count, 0] = w0
            pools[count, 1] = w1
            pools[count, 2] = w2
            count += 1
        frames += 1
        pos += n
    return count, frames, errors, pos
