"""The numba kernels read the same values the Python codec (the reference path) decodes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from mesh.protocol import (
    PoolBurn,
    PoolMint,
    PoolState,
    PoolSwap,
    PoolSync,
    Quote,
    Trade,
    decode_frame,
    encode_frame,
)
from mesh.protocol import kernels as k

from .strategies import messages

M64 = (1 << 64) - 1


def _words(address: bytes) -> tuple[int, int, int]:
    return (int.from_bytes(address[:8], "little"), int.from_bytes(address[8:16], "little"),
            int.from_bytes(address[16:], "little"))


def _halves(v: int) -> tuple[int, int]:
    return v & M64, v >> 64


@njit(cache=True)
def _read(buf, tlv_type):
    n = k.frame_length(buf, 0, buf.size)
    v, _ = k.find_tlv(buf, 0, n, tlv_type)
    return v


@njit(cache=True)
def _sync(buf):
    v = _read(buf, k.TYPE_POOL_SYNC)
    return k.read_pool_sync(buf, v), k.read_address(buf, v + k.SY_POOL)


@njit(cache=True)
def _swap(buf):
    return k.read_pool_swap(buf, _read(buf, k.TYPE_POOL_SWAP))


@njit(cache=True)
def _state(buf):
    return k.read_pool_state(buf, _read(buf, k.TYPE_POOL_STATE))


@njit(cache=True)
def _mint(buf, t):
    return k.read_pool_mint_burn(buf, _read(buf, t))


@njit(cache=True)
def _trade(buf):
    return k.read_trade(buf, _read(buf, k.TYPE_TRADE))


@njit(cache=True)
def _quote(buf):
    return k.read_quote(buf, _read(buf, k.TYPE_QUOTE))


def _buf(msg) -> np.ndarray:
    # A leading GasPrice TLV puts the value under test at an unaligned offset.
    from mesh.protocol import GasPrice
    return np.frombuffer(encode_frame([GasPrice(), msg], source=4), np.uint8)


SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(messages(PoolSync))
def test_pool_sync_kernel_matches_codec(m):
    values, pool = _sync(_buf(m))
    assert values == (*_halves(m.reserve0), *_halves(m.reserve1), m.timestamp_ns,
                      m.block_number, m.venue)
    assert pool == _words(m.pool_address)


@SETTINGS
@given(messages(PoolSwap))
def test_pool_swap_kernel_matches_codec(m):
    sqrt = m.sqrt_price_x96_after & ((1 << 128) - 1)
    assert _swap(_buf(m)) == (*_halves(m.amount_in), *_halves(m.amount_out),
                              *_halves(m.liquidity_after), m.block_number, m.tick_after,
                              *_halves(sqrt))


@SETTINGS
@given(messages(PoolState))
def test_pool_state_kernel_matches_codec(m):
    assert _state(_buf(m)) == (*_halves(m.reserve0), *_halves(m.reserve1),
                               *_halves(m.sqrt_price_x96), *_halves(m.liquidity),
                               m.block_number, m.tick, m.fee_rate, m.pool_type)


@SETTINGS
@given(st.sampled_from([PoolMint, PoolBurn]).flatmap(messages))
def test_pool_mint_and_burn_kernel_matches_codec(m):
    assert _mint(_buf(m), m.TLV_TYPE) == (*_halves(m.liquidity_delta), *_halves(m.amount0),
                                          *_halves(m.amount1), m.tick_lower, m.tick_upper)


@SETTINGS
@given(messages(Trade))
def test_trade_kernel_matches_codec(m):
    assert _trade(_buf(m)) == (m.asset_id, m.price, m.volume, m.execution_timestamp_ns,
                               m.venue, m.side)


@SETTINGS
@given(messages(Quote))
def test_quote_kernel_matches_codec(m):
    assert _quote(_buf(m)) == (m.asset_id, m.bid_price, m.bid_size, m.ask_price, m.ask_size,
                               m.venue)


@settings(max_examples=25, deadline=None)
@given(st.lists(messages(PoolSync), min_size=1, max_size=20), st.lists(messages(Trade), max_size=5))
def test_scan_pool_syncs_extracts_every_sync_in_order(syncs, trades):
    frames = [encode_frame([s], source=4, sequence=i) for i, s in enumerate(syncs)]
    frames += [encode_frame([t], source=1) for t in trades]
    buf = np.frombuffer(b"".join(frames), np.uint8)
    n = len(syncs)
    reserves, blocks, pools = np.zeros((n, 4), np.uint64), np.zeros(n, np.uint64), np.zeros((n, 3), np.uint64)
    count, seen, errors, consumed = k.scan_pool_syncs(buf, buf.size, reserves, blocks, pools)
    # The output holds n syncs, so the scan stops right after the last sync frame.
    assert (count, seen, errors) == (n, n, 0)
    assert consumed == sum(map(len, frames[:n]))
    for i, frame in enumerate(frames[:n]):
        ref = decode_frame(frame).tlvs[0]
        assert tuple(int(x) for x in reserves[i]) == (*_halves(ref.reserve0), *_halves(ref.reserve1))
        assert int(blocks[i]) == ref.block_number
        assert tuple(int(x) for x in pools[i]) == _words(ref.pool_address)


def test_scan_stops_at_garbage_and_counts_one_error():
    good = encode_frame([PoolSync(reserve0=5)], source=4)
    buf = np.frombuffer(good + b"garbage-garbage-garbage-garbage-" + good, np.uint8)
    out = np.zeros((4, 4), np.uint64), np.zeros(4, np.uint64), np.zeros((4, 3), np.uint64)
    count, seen, errors, consumed = k.scan_pool_syncs(buf, buf.size, *out)
    assert (count, seen, errors, consumed) == (1, 1, 1, len(good))


def test_scan_skips_a_frame_with_malformed_tlvs_and_goes_on():
    good = encode_frame([PoolSync(reserve0=5)], source=4)
    bad = bytearray(good)
    bad[33] = 200  # TLV length now runs past the payload
    buf = np.frombuffer(bytes(bad) + good, np.uint8)
    out = np.zeros((4, 4), np.uint64), np.zeros(4, np.uint64), np.zeros((4, 3), np.uint64)
    count, seen, errors, consumed = k.scan_pool_syncs(buf, buf.size, *out)
    assert (count, seen, errors, consumed) == (1, 2, 1, 2 * len(good))
    assert int(out[0][0, 0]) == 5
