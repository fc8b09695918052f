"""The pool book's layout: its arrays (one tuple, indexed by the ``A_*`` names), the ``M_*``
meta slots, the ``E_*`` error counters and the frame fields the kernels read.

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

The kernels (:mod:`nodes.strategy.kernels`, :mod:`nodes.strategy.apply`) receive the tuple
:func:`allocate` builds and name its arrays ``b[A_KIND]``...; numba folds the ``A_*`` constants.
"""

from __future__ import annotations

import numpy as np

from mesh.protocol.constants import PoolKind
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

#: Index of each array in the book's tuple.
(A_KIND, A_VALID, A_FEE, A_SPACING, A_VENUE, A_BLOCK, A_ADDR, A_TOK, A_R, A_SQRT, A_LIQ, A_TICK,
 A_WORDS, A_TICKS, A_NET_LO, A_RATE, A_HTAB, A_DIRTY, A_MARK, A_NET_HI, A_NTICKS, A_FRESH, A_META,
 A_ERRORS, A_DEC) = range(25)

KIND_V2 = np.uint8(PoolKind.UNISWAP_V2)
KIND_V3 = np.uint8(PoolKind.UNISWAP_V3)

# meta indices
M_POOLS, M_BLOCK_ENDS, M_BLOCK, M_BASE_FEE, M_TIP, M_BLOCK_TS, M_RECEIVED, M_RADIUS, M_CHAIN = range(9)
M_SIZE = 16
# error indices, and their names for the node's counters
E_UNKNOWN_POOL, E_BAD_TLV, E_TICKS_FULL, E_BOOK_FULL, E_BAD_VALUE, E_WRONG_KIND, E_REJECTED = range(7)
ERROR_KINDS = ("unknown_pool", "bad_tlv", "ticks_full", "book_full", "bad_value", "wrong_kind",
               "ring_frame_rejected")

T_STATE, T_SYNC, T_SWAP = PoolState.TLV_TYPE, PoolSync.TLV_TYPE, PoolSwap.TLV_TYPE
T_MINT, T_BURN, T_TICK = PoolMint.TLV_TYPE, PoolBurn.TLV_TYPE, PoolTickLiquidity.TLV_TYPE
T_INVALID, T_BLOCK_END = PoolInvalidation.TLV_TYPE, BlockEnd.TLV_TYPE
N_STATE, N_SYNC, N_SWAP = PoolState.LAYOUT.size, PoolSync.LAYOUT.size, PoolSwap.LAYOUT.size
N_MB, N_TICK = PoolMint.LAYOUT.size, PoolTickLiquidity.LAYOUT.size
N_INVALID, N_BLOCK_END = PoolInvalidation.LAYOUT.size, BlockEnd.LAYOUT.size
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


def allocate(capacity: int, ticks_per_pool: int) -> tuple[np.ndarray, ...]:
    """The book's arrays, zeroed (rates -inf), in ``A_*`` order."""
    p, t = capacity, ticks_per_pool
    h = 1 << max(4, (2 * p - 1).bit_length())
    arrays: dict[int, np.ndarray] = {
        A_KIND: np.zeros(p, np.uint8), A_VALID: np.zeros(p, np.uint8), A_FEE: np.zeros(p, np.uint32),
        A_SPACING: np.zeros(p, np.int32), A_VENUE: np.zeros(p, np.uint16), A_BLOCK: np.zeros(p, np.uint64),
        A_ADDR: np.zeros((p, 3), np.uint64), A_TOK: np.zeros((p, 6), np.uint64), A_R: np.zeros((p, 4), np.uint64),
        A_SQRT: np.zeros((p, 3), np.uint64), A_LIQ: np.zeros((p, 2), np.uint64), A_TICK: np.zeros(p, np.int32),
        A_WORDS: np.zeros((p, 2), np.int32), A_TICKS: np.zeros((p, t), np.int32),
        A_NET_LO: np.zeros((p, t), np.uint64), A_RATE: np.full((p, 2), -np.inf), A_HTAB: np.zeros(h, np.int32),
        A_DIRTY: np.zeros(p + 1, np.int32), A_MARK: np.zeros(p, np.uint8), A_NET_HI: np.zeros((p, t), np.int64),
        A_NTICKS: np.zeros(p, np.int32), A_FRESH: np.zeros(p + 1, np.int32), A_META: np.zeros(M_SIZE, np.int64),
        A_ERRORS: np.zeros(len(ERROR_KINDS), np.int64), A_DEC: np.zeros((p, 2), np.uint8),
    }
    return tuple(arrays[i] for i in range(len(arrays)))
