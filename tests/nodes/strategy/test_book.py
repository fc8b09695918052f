"""The strategy's pool book: the collector's stream gives the reference replica's pools exactly,
and hostile frames are counted by kind, never crash, never write outside the arrays."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from contracts.swapmath.pools import V2Pool, V3Pool
from contracts.v3math import MAX_TICK, MIN_TICK
from mesh.protocol.constants import HEADER_SIZE, DEXProtocol
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
from nodes.strategy.layout import M_BASE_FEE, M_BLOCK, M_BLOCK_ENDS, M_TIP
from tests.nodes.collector_evm.activity import Activity
from tests.nodes.collector_evm.chainstate import ALL_WORDS
from tests.nodes.strategy.bookframes import (
    Q96,
    address,
    batch,
    block_end,
    burn,
    check_bounds,
    feed,
    frame,
    fuzz,
    hex_of,
    invalidation,
    mint,
    raw_tlv,
    swap,
    sync,
    tick_liquidity,
    v2_state,
    v3_state,
)
from tests.nodes.strategy.pipeline import Stream

ROOT = Path(__file__).resolve().parents[3]
V2_POOL, V3_POOL, NEW_POOL = address(1), address(2), address(3)


def _errors_besides(book: PoolBook, kind: str) -> dict[str, int]:
    return {k: v for k, v in book.error_counts().items() if k != kind and v}


@pytest.fixture
def book() -> PoolBook:
    """A small book holding one V2 pair and one V3 pool with two ticks, after a BlockEnd."""
    b = PoolBook(capacity=4, ticks_per_pool=4, word_radius=2)
    feed(b, [frame(v2_state(V2_POOL, 10**21, 2 * 10**9)),
             frame(v3_state(V3_POOL), tick_liquidity(V3_POOL, -600, 10**18), tick_liquidity(V3_POOL, 600, -10**18)),
             frame(block_end(1))])
    b.take_dirty()
    b.take_fresh()
    return b


# ---------------------------------------------------------------- parity with the replica


@pytest.mark.chain
def test_book_of_the_stream_equals_the_replica_pool_by_pool_after_random_activity(net):
    stream = Stream(net, word_radius=ALL_WORDS)
    stream.follower.start()
    book = PoolBook(64, 1024, ALL_WORDS)
    feed(book, stream.new_frames())
    activity = Activity(net.chain, net.manifest, seed=11)
    for round_ in range(8):
        for _ in range(4):
            activity.step()
        activity.burst(8)
        stream.follower.catch_up()
        feed(book, stream.new_frames())
        replica = stream.rec.replica
        assert int(book.meta[M_BLOCK]) == replica.block == net.chain.block_number()
        assert book.pools == len(replica.pools) > 0
        assert any(p.v3 and p.ticks for p in replica.pools.values())
        for raw, pool in replica.pools.items():
            s = book.slot(hex_of(raw))
            assert s >= 0 and book.valid[s] == 1, f"round {round_}: {hex_of(raw)}"
            model = book.model(s)
            if pool.v3:
                assert isinstance(model, V3Pool)
                assert (model.sqrt_price_x96, model.tick, model.liquidity) == \
                    (pool.sqrt_price_x96, pool.tick, pool.liquidity), f"round {round_}: {hex_of(raw)}"
                assert model.net == {t: net for t, (_g, net) in pool.ticks.items()}, \
                    f"round {round_}: {hex_of(raw)} ticks"
                assert list(model.ticks) == sorted(pool.ticks)
            else:
                assert isinstance(model, V2Pool)
                assert (model.reserve0, model.reserve1) == (pool.reserve0, pool.reserve1), \
                    f"round {round_}: {hex_of(raw)}"
    assert stream.rec.errors == []
    assert not any(book.error_counts().values()), book.error_counts()


# ---------------------------------------------------------------- BlockEnd


def test_apply_stops_after_each_frame_holding_a_block_end_and_returns_the_next_index():
    b = PoolBook(4, 4)
    frames = [frame(v2_state(V2_POOL, 100, 200)), frame(sync(V2_POOL, 101, 201)),
              frame(sync(V2_POOL, 102, 202), block_end(5, base_fee=11, tip=3), sync(V2_POOL, 103, 203)),
              frame(sync(V2_POOL, 104, 204)), frame(block_end(6, base_fee=12, tip=4)),
              frame(sync(V2_POOL, 105, 205))]
    data, offsets = batch(frames)
    assert b.apply(data, offsets, 0, 6) == 3
    # the whole frame with the BlockEnd applies, the next frame does not
    assert (int(b.meta[M_BLOCK]), int(b.meta[M_BASE_FEE]), int(b.meta[M_TIP])) == (5, 11, 3)
    assert b.model(0).reserve0 == 103  # type: ignore[union-attr]
    assert b.apply(data, offsets, 3, 6) == 5
    assert (int(b.meta[M_BLOCK]), int(b.meta[M_BASE_FEE]), int(b.meta[M_TIP])) == (6, 12, 4)
    assert b.model(0).reserve0 == 104  # type: ignore[union-attr]
    assert b.apply(data, offsets, 5, 6) == 6
    assert b.model(0).reserve0 == 105  # type: ignore[union-attr]
    assert int(b.meta[M_BLOCK_ENDS]) == 2
    assert b.apply(data, offsets, 6, 6) == 6


@pytest.mark.parametrize(("base_fee", "tip"), [(5 << 64, 1), (1, 1 << 64), (1 << 127, 0), (1 << 62, 0)])
def test_an_absurd_base_fee_or_tip_is_counted_and_the_gas_price_marked_unknown(book, base_fee, tip):
    """The block still ends (the pools are consistent), but no gas price is believed: -1."""
    ends = int(book.meta[M_BLOCK_ENDS])
    feed(book, [frame(block_end(9, base_fee=base_fee, tip=tip))])
    assert book.error_counts()["bad_value"] == 1
    assert (int(book.meta[M_BLOCK]), int(book.meta[M_BASE_FEE]), int(book.meta[M_TIP])) == (9, -1, -1)
    assert int(book.meta[M_BLOCK_ENDS]) == ends + 1
    feed(book, [frame(block_end(10, base_fee=(1 << 62) - 1, tip=5))])
    assert (int(book.meta[M_BLOCK]), int(book.meta[M_BASE_FEE]), int(book.meta[M_TIP])) == (10, (1 << 62) - 1, 5)


# ---------------------------------------------------------------- invalidation


def test_invalidation_makes_a_pool_unusable_until_its_next_pool_state(book):
    for pool, restate, update in ((V2_POOL, v2_state(V2_POOL, 10**21, 3 * 10**9), sync(V2_POOL, 5, 6)),
                                  (V3_POOL, v3_state(V3_POOL, Q96 * 2, 13863), swap(V3_POOL, Q96, 0, 10**17))):
        s = book.slot(hex_of(pool))
        assert book.valid[s] == 1 and np.isfinite(book.rate[s]).all()
        feed(book, [frame(invalidation(pool))])
        assert book.valid[s] == 0 and np.isneginf(book.rate[s]).all()
        assert s in book.take_dirty()
        feed(book, [frame(update), frame(block_end(2))])  # updates do not make it usable again
        assert book.valid[s] == 0 and np.isneginf(book.rate[s]).all()
        feed(book, [frame(restate)])
        assert book.valid[s] == 1 and np.isfinite(book.rate[s]).all()
    assert not any(book.error_counts().values())


def test_pool_state_drops_the_ticks_and_restates_the_pool(book):
    s = book.slot(hex_of(V3_POOL))
    assert book.model(s).ticks == (-600, 600)  # type: ignore[union-attr]
    feed(book, [frame(v3_state(V3_POOL, Q96, 0, 5), tick_liquidity(V3_POOL, 60, 7)),
                frame(tick_liquidity(V3_POOL, -60, -7)), frame(tick_liquidity(V3_POOL, 60, 0, gross=0))])
    model = book.model(s)
    assert isinstance(model, V3Pool)
    assert (model.ticks, model.net, model.liquidity) == ((-60,), {-60: -7}, 5)


def test_mint_and_burn_move_the_liquidity_only_when_the_current_tick_is_in_range(book):
    s = book.slot(hex_of(V3_POOL))
    feed(book, [frame(mint(V3_POOL, 10, -60, 60), mint(V3_POOL, 1000, 60, 120), burn(V3_POOL, 3, -120, 0),
                      burn(V3_POOL, 1000, -120, -60), mint(V3_POOL, 1, 0, 60))])
    assert book.model(s).liquidity == 10**18 + 11  # type: ignore[union-attr]


# ---------------------------------------------------------------- hostile frames


def _truncated(b: PoolBook) -> list[bytes]:
    return [frame(v2_state(NEW_POOL, 1, 1))[:-9]]


def _bad_magic(b: PoolBook) -> list[bytes]:
    raw = bytearray(frame(v2_state(NEW_POOL, 1, 1)))
    raw[0] ^= 0xFF
    return [bytes(raw)]


def _tlv_past_the_frame(b: PoolBook) -> list[bytes]:
    raw = bytearray(frame(sync(V2_POOL, 1, 1)))
    raw[HEADER_SIZE + 1] = 255  # a 160-byte PoolSync says it is 255 bytes long
    return [bytes(raw)]


def _extended_tlv_past_the_frame(b: PoolBook) -> list[bytes]:
    raw = bytearray(frame(sync(V2_POOL, 1, 1)))
    raw[HEADER_SIZE:HEADER_SIZE + 5] = bytes((255, 0, PoolSync.TLV_TYPE)) + (4000).to_bytes(2, "little")
    return [bytes(raw)]


def _payload_size_past_the_bytes(b: PoolBook) -> list[bytes]:
    raw = bytearray(frame(sync(V2_POOL, 1, 1)))
    raw[24:28] = (len(raw)).to_bytes(4, "little")
    return [bytes(raw)]


def _unknown_pool(b: PoolBook) -> list[bytes]:
    return [frame(sync(NEW_POOL, 1, 1), swap(NEW_POOL, Q96, 0, 1), mint(NEW_POOL, 1), burn(NEW_POOL, 1),
                  tick_liquidity(NEW_POOL, 60, 1), invalidation(NEW_POOL))]


def _sync_for_a_v3_pool(b: PoolBook) -> list[bytes]:
    return [frame(sync(V3_POOL, 1, 1))]


def _v3_state_for_a_v2_pool(b: PoolBook) -> list[bytes]:
    return [frame(v3_state(V2_POOL))]


def _sqrt_above_160_bits(b: PoolBook) -> list[bytes]:
    return [frame(swap(V3_POOL, 1 << 160, 0, 1), swap(V3_POOL, 1 << 255, 0, 1))]


def _swap_tick_outside(b: PoolBook) -> list[bytes]:
    return [frame(swap(V3_POOL, Q96, MAX_TICK + 1, 1), swap(V3_POOL, Q96, MIN_TICK - 1, 1))]


def _state_tick_outside(b: PoolBook) -> list[bytes]:
    return [frame(v3_state(NEW_POOL, tick=MAX_TICK + 1)), frame(v3_state(NEW_POOL, tick=-(2**31)))]


def _state_fee_without_spacing(b: PoolBook) -> list[bytes]:
    return [frame(v3_state(NEW_POOL, fee_bps=31))]


def _burn_past_the_liquidity(b: PoolBook) -> list[bytes]:
    return [frame(burn(V3_POOL, 10**18 + 1))]


def _mint_past_u128(b: PoolBook) -> list[bytes]:
    return [frame(v3_state(V3_POOL, liquidity=2**100)), frame(mint(V3_POOL, 2**128 - 2**99))]


def _tick_liquidity_outside(b: PoolBook) -> list[bytes]:
    return [frame(tick_liquidity(V3_POOL, 887280, 5), tick_liquidity(V3_POOL, -887280, 5))]


def _tick_liquidity_off_the_spacing(b: PoolBook) -> list[bytes]:
    return [frame(tick_liquidity(V3_POOL, 61, 5))]


def _too_many_ticks(b: PoolBook) -> list[bytes]:
    return [frame(*(tick_liquidity(V3_POOL, 60 * k, 1) for k in range(1, 4)))]


def _too_many_pools(b: PoolBook) -> list[bytes]:
    return [frame(v2_state(address(10 + k), 1, 1)) for k in range(3)]


def _wrong_size(tlv_type: int, size: int) -> Callable[[PoolBook], list[bytes]]:
    def frames(b: PoolBook) -> list[bytes]:
        return [frame(raw_tlv(tlv_type, b"\x01" * size))]
    return frames


HOSTILE = {
    "truncated frame": (_truncated, "ring_frame_rejected", 1),
    "bad magic": (_bad_magic, "ring_frame_rejected", 1),
    "TLV length past the frame": (_tlv_past_the_frame, "ring_frame_rejected", 1),
    "extended TLV length past the frame": (_extended_tlv_past_the_frame, "ring_frame_rejected", 1),
    "payload size past the bytes": (_payload_size_past_the_bytes, "ring_frame_rejected", 1),
    "unknown pool address": (_unknown_pool, "unknown_pool", 6),
    "PoolSync for a V3 pool": (_sync_for_a_v3_pool, "wrong_kind", 1),
    "V3 PoolState for a V2 pool": (_v3_state_for_a_v2_pool, "wrong_kind", 1),
    "sqrt price above 160 bits": (_sqrt_above_160_bits, "bad_value", 2),
    "swap tick outside MIN/MAX": (_swap_tick_outside, "bad_value", 2),
    "state tick outside MIN/MAX": (_state_tick_outside, "bad_value", 2),
    "state fee with no tick spacing": (_state_fee_without_spacing, "bad_value", 1),
    "tick liquidity outside MIN/MAX": (_tick_liquidity_outside, "bad_value", 2),
    "tick liquidity off the spacing": (_tick_liquidity_off_the_spacing, "bad_value", 1),
    "burn larger than the liquidity": (_burn_past_the_liquidity, "bad_value", 1),
    "mint past u128": (_mint_past_u128, "bad_value", 1),
    "more ticks than ticks_per_pool": (_too_many_ticks, "ticks_full", 1),
    "more pools than capacity": (_too_many_pools, "book_full", 1),
    **{f"{cls.__name__} of {size} bytes": (_wrong_size(cls.TLV_TYPE, size), "bad_tlv", 1)
       for cls in (PoolState, PoolSync, PoolSwap, PoolMint, PoolBurn, PoolTickLiquidity, PoolInvalidation,
                   BlockEnd)
       for size in (0, cls.LAYOUT.size - 1, min(255, cls.LAYOUT.size + 1))},
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_frame_is_counted_under_its_kind_and_the_next_good_frames_apply(book, case):
    make, kind, count = HOSTILE[case]
    shapes = [(a.shape, a.dtype) for a in book.arrays]
    feed(book, make(book))
    assert book.error_counts()[kind] == count
    assert _errors_besides(book, kind) == {}
    check_bounds(book, shapes)
    stops = feed(book, [frame(sync(V2_POOL, 4242, 2424)), frame(block_end(77, base_fee=99))])
    assert stops == [2]
    model = book.model(book.slot(hex_of(V2_POOL)))
    assert isinstance(model, V2Pool) and (model.reserve0, model.reserve1) == (4242, 2424)
    assert (int(book.meta[M_BLOCK]), int(book.meta[M_BASE_FEE])) == (77, 99)
    assert book.error_counts()[kind] == count
    check_bounds(book, shapes)


@pytest.mark.parametrize("case", ["sqrt price above 160 bits", "swap tick outside MIN/MAX",
                                  "burn larger than the liquidity"])
def test_a_bad_value_leaves_the_v3_pool_unusable_until_its_next_pool_state(book, case):
    make, _kind, _count = HOSTILE[case]
    s = book.slot(hex_of(V3_POOL))
    before = book.model(s)
    feed(book, make(book))
    after = book.model(s)
    assert book.valid[s] == 0 and np.isneginf(book.rate[s]).all()
    assert (after.sqrt_price_x96, after.tick, after.liquidity) == \
        (before.sqrt_price_x96, before.tick, before.liquidity)  # type: ignore[union-attr]
    feed(book, [frame(v3_state(V3_POOL))])
    assert book.valid[s] == 1 and np.isfinite(book.rate[s]).all()


def test_a_book_that_is_full_keeps_the_pools_it_holds_and_counts_each_new_one(book):
    feed(book, [frame(v2_state(address(20 + k), 1, 1)) for k in range(5)])
    assert book.pools == 4
    assert book.error_counts()["book_full"] == 3
    assert book.slot(hex_of(address(20))) == 2 and book.slot(hex_of(address(22))) == -1


def test_a_pool_with_more_ticks_than_it_can_hold_has_rates_of_minus_infinity(book):
    s = book.slot(hex_of(V3_POOL))
    feed(book, _too_many_ticks(book))
    assert book.valid[s] == 0
    assert np.isneginf(book.rate[s]).all()


def test_a_mint_that_overflows_u128_through_the_carry_is_counted(book):
    s = book.slot(hex_of(V3_POOL))
    feed(book, [frame(v3_state(V3_POOL, liquidity=1)), frame(mint(V3_POOL, 2**128 - 1))])
    assert book.error_counts()["bad_value"] == 1
    assert book.model(s).liquidity == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("tick", [MAX_TICK + 1, MIN_TICK - 1])
def test_a_tick_liquidity_outside_min_max_is_counted_and_not_stored(book, tick):
    s = book.slot(hex_of(V3_POOL))
    feed(book, [frame(tick_liquidity(V3_POOL, tick, 5))])
    assert book.error_counts()["bad_value"] == 1
    assert tick not in book.model(s).ticks  # type: ignore[union-attr]


# ---------------------------------------------------------------- fuzz


@pytest.mark.parametrize("seed", [1, 2])
def test_thousands_of_mutated_frames_never_crash_nor_write_outside_the_pools(seed):
    counts = fuzz(seed, 250)
    # the mutations reach the counted kinds (a fuzz that only hit one path would prove little)
    for kind in ("unknown_pool", "bad_tlv", "ticks_full", "book_full", "bad_value", "ring_frame_rejected"):
        assert counts[kind] > 0, counts


#: numba's cache of the bounds-checked build, kept between runs: numba's cache key does not hold
#: NUMBA_BOUNDSCHECK, so this directory never sees any other build (nor does the usual cache see
#: this one). Its index is renewed when a kernel's source file changes, as numba's own cache is.
BOUNDSCHECK_CACHE = Path(tempfile.gettempdir()) / f"alphapulse-numba-boundscheck-{os.getuid()}"


@pytest.mark.slow  # the first run compiles the book with bounds checks (about a minute when busy)
def test_mutated_frames_never_index_outside_the_arrays_with_numba_bounds_checking():
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(BOUNDSCHECK_CACHE)}
    proc = subprocess.run([sys.executable, "-m", "tests.nodes.strategy.bookframes", "4", "150"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("pool_type", [DEXProtocol.CURVE, DEXProtocol.BALANCER])
def test_a_pool_the_strategy_cannot_price_is_counted_and_not_booked(pool_type):
    book = PoolBook(8, 8)
    other = b"\x77" * 20
    state = PoolState(reserve0=10**18, reserve1=10**18, block_number=1, fee_rate=30, pool_type=pool_type,
                      pool_address=other, token0_addr=b"\x01" * 20, token1_addr=b"\x02" * 20)
    feed(book, [frame(state)])
    assert book.slot(hex_of(other)) == -1 and book.pools == 0
    assert book.error_counts()["wrong_kind"] == 1


def test_a_frame_with_one_bad_tlv_is_not_applied_at_all(book):
    """As the reference consumer decodes a whole frame first: nothing of it, not even the good part."""
    s = book.slot(hex_of(V2_POOL))
    bad_swap = raw_tlv(PoolSwap.TLV_TYPE, b"\x00" * 12)
    feed(book, [frame(sync(V2_POOL, 7, 8), bad_swap)])
    assert book.error_counts()["bad_tlv"] == 1
    assert book.model(s).reserve0 == 10**21  # type: ignore[union-attr]
    assert len(book.take_dirty()) == 0


@pytest.mark.parametrize(("lower", "upper"), [(600, -600), (0, 0), (MIN_TICK - 60, 600), (-600, MAX_TICK + 60)])
def test_a_mint_or_burn_with_impossible_bounds_is_counted_and_leaves_the_pool_unusable(book, lower, upper):
    s = book.slot(hex_of(V3_POOL))
    feed(book, [frame(mint(V3_POOL, 5, lower, upper))])
    assert book.error_counts()["bad_value"] == 1
    assert book.valid[s] == 0 and np.isneginf(book.rate[s]).all()


def test_a_v2_fee_of_the_whole_input_is_counted_and_the_pair_unusable():
    book = PoolBook(4, 4)
    feed(book, [frame(v2_state(V2_POOL, 10**18, 10**18, fee_bps=10_000))])
    s = book.slot(hex_of(V2_POOL))
    assert book.error_counts()["bad_value"] == 1 and book.valid[s] == 0


def test_a_v2_pair_keeps_its_own_fee_for_the_exact_math():
    book = PoolBook(4, 4)
    feed(book, [frame(v2_state(V2_POOL, 10**18, 10**18, fee_bps=25))])
    pair = book.model(book.slot(hex_of(V2_POOL)))
    assert isinstance(pair, V2Pool) and pair.fee_bps == 25
    assert pair.amount_out(True, 10**15) == 10**15 * 9975 * 10**18 // (10**18 * 10_000 + 10**15 * 9975)
