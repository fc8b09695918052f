"""Venue symbols <-> InstrumentIds: ``InstrumentId.coin(venue, "BASE/QUOTE")`` for every venue.

Binance writes a pair without a separator (``ETHUSDT``), so the split needs the list of quote
assets: the longest configured quote that is a proper suffix wins (``ETHBTC`` -> ETH/BTC,
``BTCFDUSD`` -> BTC/FDUSD). A configured ``BASE/QUOTE`` is taken as it is. Coinbase writes
``ETH-USD``. Upstream cut the first three characters, which made ETHUSDT and ETHBTC one
instrument; we never do.
"""

from __future__ import annotations

from dataclasses import dataclass

from cex.errors import UnknownSymbol
from mesh.protocol import InstrumentId

BINANCE_QUOTES = ("USDT", "USDC", "FDUSD", "TUSD", "BUSD", "DAI", "BTC", "ETH", "BNB", "EUR",
                  "TRY", "BRL", "GBP", "JPY", "AUD", "USD")
"""Quote assets recognised at the end of a Binance symbol (longest match first)."""


@dataclass(frozen=True, slots=True)
class Pair:
    """A venue's trading pair.

    Attributes
    ----------
    symbol : str
        The venue's own spelling (``ETHUSDT``, ``ETH-USD``).
    base, quote : str
        The two assets, upper case.
    instrument : InstrumentId
        ``InstrumentId.coin(venue, "BASE/QUOTE")``.
    """

    symbol: str
    base: str
    quote: str
    instrument: InstrumentId

    @property
    def name(self) -> str:
        """``BASE/QUOTE``."""
        return f"{self.base}/{self.quote}"


def split_binance(symbol: str, quotes: tuple[str, ...] = BINANCE_QUOTES) -> tuple[str, str]:
    """Split a Binance symbol (``ETHUSDT`` or ``ETH/USDT``) into (base, quote), upper case.

    Raises
    ------
    UnknownSymbol
        No known quote is a proper suffix, or the text is not alphanumeric.
    """
    text = symbol.strip().upper()
    if "/" in text:
        base, _, quote = text.partition("/")
        if base.isalnum() and quote.isalnum() and base.isascii() and quote.isascii():
            return base, quote
        raise UnknownSymbol(f"not a BASE/QUOTE pair: {symbol!r}")
    if not (text.isalnum() and text.isascii()):
        raise UnknownSymbol(f"not a Binance symbol: {symbol!r}")
    for quote in sorted(quotes, key=len, reverse=True):
        if len(text) > len(quote) and text.endswith(quote):
            return text[:-len(quote)], quote
    raise UnknownSymbol(f"no known quote asset ends {symbol!r} (configure it as BASE/QUOTE)")


def binance_pair(symbol: str, venue: int, quotes: tuple[str, ...] = BINANCE_QUOTES) -> Pair:
    """The :class:`Pair` of a configured Binance symbol (``ETHUSDT`` or ``ETH/USDT``)."""
    base, quote = split_binance(symbol, quotes)
    return Pair(base + quote, base, quote, InstrumentId.coin(venue, f"{base}/{quote}"))


def split_dashed(product: str) -> tuple[str, str]:
    """Split a dashed product id (Coinbase ``ETH-USD``) into (base, quote), upper case.

    Raises
    ------
    UnknownSymbol
        Not exactly two alphanumeric parts around one dash.
    """
    base, dash, quote = product.strip().upper().partition("-")
    if not (dash and base.isalnum() and quote.isalnum() and base.isascii() and quote.isascii()):
        raise UnknownSymbol(f"not a BASE-QUOTE product id: {product!r}")
    return base, quote


def dashed_pair(product: str, venue: int) -> Pair:
    """The :class:`Pair` of a dashed product id (``ETH-USD``)."""
    base, quote = split_dashed(product)
    return Pair(f"{base}-{quote}", base, quote, InstrumentId.coin(venue, f"{base}/{quote}"))
