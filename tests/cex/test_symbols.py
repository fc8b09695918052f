"""cex.symbols: venue symbols to BASE/QUOTE InstrumentIds, never the first three letters."""

from __future__ import annotations

import pytest

from cex.errors import UnknownSymbol
from cex.symbols import binance_pair, dashed_pair, split_binance
from mesh.protocol import InstrumentId, VenueId

B = int(VenueId.BINANCE)


@pytest.mark.parametrize(("symbol", "base", "quote"), [
    ("ETHUSDT", "ETH", "USDT"), ("ethbtc", "ETH", "BTC"), ("BTCFDUSD", "BTC", "FDUSD"),
    ("BTCTUSD", "BTC", "TUSD"), ("BNBETH", "BNB", "ETH"), ("WETH/USDC", "WETH", "USDC"),
    ("SOLEUR", "SOL", "EUR"),
])
def test_binance_symbols_split_at_the_longest_known_quote(symbol: str, base: str,
                                                          quote: str) -> None:
    assert split_binance(symbol) == (base, quote)
    pair = binance_pair(symbol, B)
    assert pair.instrument == InstrumentId.coin(B, f"{base}/{quote}")
    assert pair.symbol == base + quote


def test_pairs_sharing_a_base_are_different_instruments() -> None:
    assert binance_pair("ETHUSDT", B).instrument != binance_pair("ETHBTC", B).instrument


@pytest.mark.parametrize("symbol", ["USDT", "ETHXYZ", "ETH-USDT", "", "ÉTHUSDT", "ETH/"])
def test_unsplittable_binance_symbols_are_typed_errors(symbol: str) -> None:
    with pytest.raises(UnknownSymbol):
        binance_pair(symbol, B)


def test_dashed_products_split_at_the_dash() -> None:
    pair = dashed_pair("eth-usd", int(VenueId.COINBASE))
    assert (pair.symbol, pair.name) == ("ETH-USD", "ETH/USD")
    assert pair.instrument == InstrumentId.coin(int(VenueId.COINBASE), "ETH/USD")
    with pytest.raises(UnknownSymbol):
        dashed_pair("ETHUSD", int(VenueId.COINBASE))
