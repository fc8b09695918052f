"""The cexdex node's inputs: pair configuration, CEX books and pools held to complete blocks."""

from __future__ import annotations

import pytest

from alphapulse.errors import ConfigError
from mesh.protocol import (
    InstrumentId,
    OrderBook,
    Quote,
    StateInvalidation,
    decode_frame,
    encode_frame,
)
from mesh.protocol.constants import DEXProtocol, PoolKind, VenueId
from mesh.protocol.messages import BlockEnd, PoolState, PoolSync, PoolTickLiquidity
from mesh.protocol.messages.market import OrderLevel
from mesh.protocol.messages.upstream_system import InstrumentIdRecord
from nodes.cexdex.books import BadBook, CexBooks
from nodes.cexdex.config import manifest_pools, parse_pairs, split_pairs
from nodes.cexdex.pools import PoolStore

WETH, USDC, DAI = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20
MANIFEST = {
    "tokens": {"WETH": {"address": WETH.upper().replace("0X", "0x"), "decimals": 18},
               "USDC": {"address": USDC, "decimals": 6}, "DAI": {"address": DAI, "decimals": 18}},
    "uniswap_v2": {"pairs": [{"address": "0x" + "01" * 20, "fee_bps": 30, "token0": WETH, "token1": USDC}]},
    "uniswap_v3": {"pools": [{"address": "0x" + "02" * 20, "fee": 500, "tick_spacing": 10, "kind": "v3",
                              "token0": WETH, "token1": USDC}]},
}
ETH_USDT = InstrumentId.coin(VenueId.BINANCE, "ETH/USDT")
ETH_USD = InstrumentId.coin(VenueId.COINBASE, "ETH/USD")


def _frame(*tlvs):
    return decode_frame(encode_frame(list(tlvs), source=1))


# -- configuration ----------------------------------------------------------------------------

def test_pairs_resolve_to_instruments_and_manifest_tokens():
    pairs = parse_pairs("binance:eth/usdt=WETH/USDC, coinbase:ETH/USD=WETH/" + USDC, MANIFEST)
    assert [p.label for p in pairs] == ["binance:ETH/USDT", "coinbase:ETH/USD"]
    assert pairs[0].instrument == ETH_USDT and pairs[1].instrument == ETH_USD
    assert (pairs[0].base.address, pairs[0].base.decimals) == (WETH, 18)
    assert pairs[1].quote.symbol == "USDC" and pairs[1].quote.decimals == 6


@pytest.mark.parametrize("text", ["binance:ETH/USDT", "binance:ETH=WETH/USDC", "nowhere:ETH/USDT=WETH/USDC",
                                  "uniswap_v2:ETH/USDT=WETH/USDC", "binance:ETH/USDT=WETH/USDC,binance:ETH/USDT=WETH/DAI",
                                  ":ETH/USDT=WETH/USDC"])
def test_malformed_pairs_are_config_errors(text):
    with pytest.raises(ConfigError):
        split_pairs(text)


def test_unknown_or_identical_tokens_are_config_errors():
    with pytest.raises(ConfigError, match="WBTC"):
        parse_pairs("binance:BTC/USDT=WBTC/USDC", MANIFEST)
    with pytest.raises(ConfigError, match="one token"):
        parse_pairs("binance:USDC/USDT=USDC/USDC", MANIFEST)


def test_manifest_pools_carry_kind_fee_and_spacing():
    pools = manifest_pools(MANIFEST)
    v2, v3 = pools["0x" + "01" * 20], pools["0x" + "02" * 20]
    assert (v2.kind, v2.fee, v2.fee_ppm) == (PoolKind.UNISWAP_V2, 30, 3000)
    assert (v3.kind, v3.fee, v3.fee_ppm, v3.tick_spacing) == (PoolKind.UNISWAP_V3, 500, 500, 10)
    assert v2.holds(USDC, WETH) and not v2.holds(WETH, DAI)


# -- books --------------------------------------------------------------------------------------

def _book(inst, bids, asks, ts=1, precision=10**8):
    level = OrderLevel.cls
    return OrderBook(snapshot_timestamp_ns=ts, precision_factor=precision, asset_id=inst.asset_id,
                     venue=inst.venue, asset_type=inst.asset_type,
                     bids=tuple(level(price=p, size=q, order_count=1) for p, q in bids),
                     asks=tuple(level(price=p, size=q, order_count=1) for p, q in asks))


def _quote(inst, bid, ask, ts=1):
    return Quote(asset_id=inst.asset_id, venue=inst.venue, asset_type=inst.asset_type, bid_price=bid,
                 bid_size=10**8, ask_price=ask, ask_size=10**8, quote_timestamp_ns=ts)


def test_a_quote_is_a_one_level_book_until_an_order_book_arrives():
    books, key = CexBooks(), ETH_USDT.cache_key()
    assert books.apply(_quote(ETH_USDT, 100, 101)) == [key]
    assert books.get(key).bids == ((100, 10**8),) and not books.get(key).full
    assert books.apply(_book(ETH_USDT, [(99, 5), (98, 5)], [(102, 5)])) == [key]
    assert books.apply(_quote(ETH_USDT, 200, 201)) == []  # the book's levels win
    assert books.get(key).bids == ((99, 5), (98, 5))
    assert books.apply(_book(ETH_USDT, [(99, 5), (98, 5)], [(102, 5)], ts=9)) == []  # same levels
    assert books.get(key).timestamp_ns == 9


def test_an_invalidation_drops_every_book_of_its_venue():
    books = CexBooks()
    books.apply(_book(ETH_USDT, [(99, 5)], [(102, 5)]))
    books.apply(_quote(InstrumentId.coin(VenueId.BINANCE, "BTC/USDT"), 5, 6))
    books.apply(_quote(ETH_USD, 100, 101))
    record = InstrumentIdRecord.cls(asset_id=ETH_USDT.asset_id, venue=ETH_USDT.venue,
                                    asset_type=ETH_USDT.asset_type, reserved=0)
    gone = books.apply(StateInvalidation(instruments=(record,), venue=VenueId.BINANCE))
    assert len(gone) == 2 and ETH_USDT.cache_key() in gone
    assert list(books.books) == [ETH_USD.cache_key()]


@pytest.mark.parametrize("bids, asks, precision", [
    ([(99, 5), (99, 5)], [], 10**8), ([(98, 5), (99, 5)], [], 10**8), ([], [(102, 5), (101, 5)], 10**8),
    ([(99, 0)], [], 10**8), ([(-1, 5)], [], 10**8), ([(99, 5)], [(102, 5)], 10**6)])
def test_unusable_levels_drop_the_book_and_raise(bids, asks, precision):
    books = CexBooks()
    books.apply(_book(ETH_USDT, [(99, 5)], [(102, 5)]))
    with pytest.raises(BadBook):
        books.apply(_book(ETH_USDT, bids, asks, precision=precision))
    assert books.get(ETH_USDT.cache_key()) is None


# -- pools ----------------------------------------------------------------------------------------

def _state(address, v3=False, tick=0, sqrt=0, liquidity=0, r0=0, r1=0):
    return PoolState(reserve0=r0, reserve1=r1, sqrt_price_x96=sqrt, liquidity=liquidity, tick=tick,
                     pool_type=DEXProtocol.UNISWAP_V3 if v3 else DEXProtocol.UNISWAP_V2,
                     pool_address=bytes.fromhex(address[2:]))


def test_pool_frames_wait_for_their_block_end():
    store = PoolStore(manifest_pools(MANIFEST), word_radius=2)
    v2 = "0x" + "01" * 20
    assert store.feed("evm", _frame(_state(v2, r0=10**18, r1=3000 * 10**6))) is None
    assert store.model(v2) is None and store.block == 0
    assert store.feed("evm", _frame(BlockEnd(block_number=7, next_base_fee_wei=5, priority_fee_wei=2))) == {v2}
    assert store.block == 7 and store.gas_price_wei == 7
    assert store.model(v2).reserve1 == 3000 * 10**6
    store.feed("evm", _frame(PoolSync(reserve0=2 * 10**18, reserve1=1, pool_address=bytes.fromhex(v2[2:]))))
    store.feed("other", _frame(BlockEnd(block_number=8)))  # another ring's block closes nothing here
    assert store.model(v2).reserve0 == 10**18
    assert store.feed("evm", _frame(BlockEnd(block_number=8))) == {v2}
    assert store.model(v2).reserve0 == 2 * 10**18


def test_a_v3_pool_knows_the_words_around_its_last_state():
    store = PoolStore(manifest_pools(MANIFEST), word_radius=2)
    v3 = "0x" + "02" * 20
    raw = bytes.fromhex(v3[2:])
    tick = -200_000
    store.feed("evm", _frame(_state(v3, v3=True, tick=tick, sqrt=2**80, liquidity=10**18),
                             PoolTickLiquidity(pool_address=raw, tick=-200_010, liquidity_gross=5, liquidity_net=5),
                             BlockEnd(block_number=3)))
    m = store.model(v3)
    word = (tick // 10) >> 8
    assert (m.word_lo, m.word_hi) == (word - 2, word + 2)
    assert m.ticks == (-200_010,) and m.net == {-200_010: 5} and m.fee == 500 and m.tick_spacing == 10
    store.feed("evm", _frame(_state(v3, v3=True, tick=0, sqrt=0), BlockEnd(block_number=4)))
    assert store.model(v3) is None  # created, not initialized
    assert store.model("0x" + "03" * 20) is None  # not in the manifest
