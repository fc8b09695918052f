"""Frames for the pool book's tests: good messages, ring batches, and a seeded frame fuzzer.

The fuzzer is importable on its own so that a test can run it in a subprocess whose numba
compiles with bounds checking (``NUMBA_BOUNDSCHECK=1``): any read or write outside the book's
arrays then raises instead of corrupting memory silently.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterable, Sequence

import numpy as np

from mesh.protocol import encode_frame
from mesh.protocol.constants import HEADER_SIZE, DEXProtocol
from mesh.protocol.frame import UnknownTLV
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
from nodes.strategy.book import PoolBook
from nodes.strategy.layout import M_POOLS

#: sqrtPriceX96 at tick 0 (price 1).
Q96 = 1 << 96
TOKEN_A, TOKEN_B = b"\x0a" * 20, b"\x0b" * 20


def address(n: int) -> bytes:
    """A pool address made from a small integer (distinct per ``n``)."""
    return (0xAB << 152 | n * 0x9E3779B1).to_bytes(20, "big")


def hex_of(raw: bytes) -> str:
    """An address as ``0x`` hex."""
    return "0x" + raw.hex()


def v2_state(pool: bytes, r0: int, r1: int, *, fee_bps: int = 30, block: int = 1) -> PoolState:
    """A V2 pair's PoolState."""
    return PoolState(reserve0=r0, reserve1=r1, block_number=block, fee_rate=fee_bps,
                     pool_type=DEXProtocol.UNISWAP_V2, pool_address=pool, token0_addr=TOKEN_A,
                     token1_addr=TOKEN_B, token0_decimals=18, token1_decimals=6)


def v3_state(pool: bytes, sqrt: int = Q96, tick: int = 0, liquidity: int = 10**18, *,
             fee_bps: int = 30, block: int = 1) -> PoolState:
    """A V3 pool's PoolState (fee in bps as the wire carries it: 30 is 3000 pips, spacing 60)."""
    return PoolState(sqrt_price_x96=sqrt, tick=tick, liquidity=liquidity, block_number=block,
                     fee_rate=fee_bps, pool_type=DEXProtocol.UNISWAP_V3, pool_address=pool,
                     token0_addr=TOKEN_A, token1_addr=TOKEN_B)


def sync(pool: bytes, r0: int, r1: int, block: int = 2) -> PoolSync:
    """A V2 Sync."""
    return PoolSync(reserve0=r0, reserve1=r1, block_number=block, pool_address=pool)


def swap(pool: bytes, sqrt: int, tick: int, liquidity: int, block: int = 2) -> PoolSwap:
    """A V3 swap's resulting price, tick and liquidity."""
    return PoolSwap(sqrt_price_x96_after=sqrt, tick_after=tick, liquidity_after=liquidity,
                    block_number=block, pool_address=pool)


def mint(pool: bytes, delta: int, lower: int = -600, upper: int = 600) -> PoolMint:
    """A V3 mint of ``delta`` liquidity over ``[lower, upper)``."""
    return PoolMint(liquidity_delta=delta, tick_lower=lower, tick_upper=upper, pool_address=pool)


def burn(pool: bytes, delta: int, lower: int = -600, upper: int = 600) -> PoolBurn:
    """A V3 burn of ``delta`` liquidity over ``[lower, upper)``."""
    return PoolBurn(liquidity_delta=delta, tick_lower=lower, tick_upper=upper, pool_address=pool)


def tick_liquidity(pool: bytes, tick: int, net: int, gross: int | None = None) -> PoolTickLiquidity:
    """One initialized tick (``gross`` 0 removes it)."""
    return PoolTickLiquidity(tick=tick, liquidity_net=net, block_number=2, pool_address=pool,
                             liquidity_gross=abs(net) if gross is None else gross)


def invalidation(pool: bytes, block: int = 2) -> PoolInvalidation:
    """Forget a pool until its next PoolState."""
    return PoolInvalidation(block_number=block, pool_address=pool)


def block_end(block: int, base_fee: int = 7 * 10**9, tip: int = 10**9) -> BlockEnd:
    """A block's end with its fees."""
    return BlockEnd(block_number=block, next_base_fee_wei=base_fee, priority_fee_wei=tip, chain_id=31337)


def frame(*tlvs: object, sequence: int = 0) -> bytes:
    """One encoded frame of ``tlvs``."""
    return encode_frame(list(tlvs), source=4, sequence=sequence, timestamp_ns=1)  # type: ignore[arg-type]


def raw_tlv(tlv_type: int, value: bytes) -> UnknownTLV:
    """A TLV of any type with any value bytes (a known type with the wrong size, say)."""
    return UnknownTLV(tlv_type, value)


def batch(frames: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """A ring batch: the frames back to back and their offsets (frame i is data[o[i]:o[i+1]])."""
    offsets = np.zeros(len(frames) + 1, np.int64)
    np.cumsum([len(f) for f in frames], out=offsets[1:])
    data = np.frombuffer(b"".join(frames), np.uint8).copy() if frames else np.zeros(0, np.uint8)
    return data, offsets


def feed(book: PoolBook, frames: Sequence[bytes]) -> list[int]:
    """Apply every frame; the indices :meth:`PoolBook.apply` returned (one per stop)."""
    data, offsets = batch(frames)
    stops = []
    i = 0
    while i < len(frames):
        i = book.apply(data, offsets, i, len(frames))
        stops.append(i)
    return stops


def _good_frames(rng: random.Random, pools: int) -> list[bytes]:
    """Valid frames over ``pools`` addresses (V2 for even n, V3 for odd n)."""
    out = []
    for n in range(pools):
        pool = address(n)
        if n % 2 == 0:
            out.append(frame(v2_state(pool, rng.randrange(1, 10**24), rng.randrange(1, 10**12))))
            out.append(frame(sync(pool, rng.randrange(1, 10**24), rng.randrange(1, 10**12))))
        else:
            out.append(frame(v3_state(pool), *(tick_liquidity(pool, 60 * rng.randrange(-50, 50),
                                                              rng.randrange(-10**18, 10**18))
                                               for _ in range(rng.randrange(1, 6)))))
            out.append(frame(swap(pool, Q96 + rng.randrange(-10**20, 10**20), rng.randrange(-100, 100),
                                  rng.randrange(10**18)),
                             mint(pool, rng.randrange(10**18)), burn(pool, rng.randrange(10**15))))
            out.append(frame(invalidation(pool)))
    out.append(frame(block_end(rng.randrange(1, 10**6))))
    return out


def mutate(rng: random.Random, raw: bytes) -> bytes:
    """One hostile version of a frame: flipped bytes, cut, extended, corrupt lengths or types."""
    b = bytearray(raw)
    roll = rng.randrange(8)
    if roll == 0:
        for _ in range(rng.randrange(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif roll == 1:
        b = b[:rng.randrange(len(b))]
    elif roll == 2:
        b += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    elif roll == 3 and len(b) > HEADER_SIZE + 1:
        b[HEADER_SIZE + 1] = rng.randrange(256)  # the first TLV's length
    elif roll == 4 and len(b) > HEADER_SIZE:
        b[HEADER_SIZE] = rng.choice((255, 10, 11, 12, 13, 15, 16, 200, 201, 202, rng.randrange(256)))
    elif roll == 5:
        # payload size in the header (offset 24) past or short of the bytes
        b[24:28] = rng.randrange(1 << 32).to_bytes(4, "little") if rng.random() < 0.3 else \
            max(0, len(b) - HEADER_SIZE + rng.randrange(-8, 9)).to_bytes(4, "little")
    elif roll == 6 and len(b) > HEADER_SIZE + 2:
        # an extended TLV header with a random length
        b[HEADER_SIZE:HEADER_SIZE + 5] = bytes((255, rng.choice((0, 0, 1)), rng.randrange(256))) \
            + rng.randrange(1 << 16).to_bytes(2, "little")
    else:
        # values at the edges: all-ones or zero runs over a random field
        at = rng.randrange(HEADER_SIZE, max(HEADER_SIZE + 1, len(b)))
        fill = rng.choice((b"\xff", b"\x00", b"\x80", b"\x7f"))
        b[at:at + rng.randrange(1, 33)] = fill * len(b[at:at + 32])
    return bytes(b)


def check_bounds(book: PoolBook, shapes: Sequence[tuple[tuple[int, ...], np.dtype]]) -> None:
    """Assert the book's arrays kept their shapes and its invariants hold: nothing beyond the
    pools in use was written, tick lists are sorted, counters in range, and every unusable
    pool's rates are -inf."""
    assert [(a.shape, a.dtype) for a in book.arrays] == shapes
    n, p, t = int(book.meta[M_POOLS]), book.capacity, book.ticks.shape[1]
    assert 0 <= n <= p
    for a in book.arrays:
        if a.shape[0] == p and a is not book.rate:
            assert not a[n:].any(), "a slot past the pools in use was written"
    assert np.isneginf(book.rate[n:]).all()
    assert ((book.nticks >= 0) & (book.nticks <= t)).all()
    for s in range(n):
        k = int(book.nticks[s])
        assert (np.diff(book.ticks[s, :k]) > 0).all(), f"slot {s} ticks not sorted"
    assert 0 <= book.dirty[-1] <= p and 0 <= book.fresh[-1] <= p
    assert ((book.htab >= 0) & (book.htab <= n)).all()
    assert (book.errors >= 0).all()
    invalid = book.valid[:n] == 0
    assert np.isneginf(book.rate[:n][invalid]).all(), "an unusable pool has a finite rate"


def fuzz(seed: int, rounds: int, capacity: int = 12, ticks_per_pool: int = 6) -> dict[str, int]:
    """Apply ``rounds`` batches of good and mutated frames to one book, checking it after each
    (:func:`check_bounds`). Returns the book's error counts."""
    rng = random.Random(seed)
    book = PoolBook(capacity, ticks_per_pool, word_radius=2)
    shapes = [(a.shape, a.dtype) for a in book.arrays]
    for _ in range(rounds):
        good = _good_frames(rng, rng.randrange(1, capacity + 4))
        frames = [mutate(rng, f) if rng.random() < 0.6 else f for f in good]
        rng.shuffle(frames)
        feed(book, frames)
        book.take_dirty()
        book.take_fresh()
        check_bounds(book, shapes)
    return book.error_counts()


def main(argv: Iterable[str]) -> int:
    """``python -m tests.nodes.strategy.bookframes SEED ROUNDS``: fuzz, exit 0 when every check held."""
    seed, rounds = (int(a) for a in argv)
    fuzz(seed, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
