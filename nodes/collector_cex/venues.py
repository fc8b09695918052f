"""The venue table of collector-cex: venue name -> the factory of its feed.

A factory takes the node's settings and returns the venue's :class:`~cex.feed.VenueFeed`
and the base URL of its REST API ("" when the feed asks for none). Adding a venue is one line
in :data:`VENUES` (and its keys in the node's CONTRACT.config).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cex.binance.fastdepth import FastBinanceFeed
from cex.binance.feed import BinanceFeed
from cex.feed import VenueFeed

Factory = Callable[[Mapping[str, Any]], tuple[VenueFeed, str]]


def names(text: str) -> list[str]:
    """A configured list: names separated by commas or spaces."""
    return [v for v in text.replace(",", " ").split() if v]


def binance(settings: Mapping[str, Any]) -> tuple[VenueFeed, str]:
    """Binance spot: ``binance_symbols`` on ``binance_ws``, snapshots from ``binance_rest``;
    depth updates through the compiled path unless ``binance_fast_depth`` is false."""
    feed = BinanceFeed(symbols=names(settings["binance_symbols"]), ws_base=settings["binance_ws"])
    fast = settings.get("binance_fast_depth", True)
    return (FastBinanceFeed(feed) if fast else feed), settings["binance_rest"]


def coinbase(settings: Mapping[str, Any]) -> tuple[VenueFeed, str]:
    """Coinbase Advanced Trade: ``coinbase_products`` on ``coinbase_ws`` (no REST); a CDP key
    from ``coinbase_key_file`` or the environment when one is configured (optional)."""
    from cex.coinbase.auth import load_key
    from cex.coinbase.feed import CoinbaseFeed
    key = load_key(settings.get("coinbase_key_file", ""))
    return CoinbaseFeed(names(settings["coinbase_products"]), url=settings["coinbase_ws"],
                        key=key), ""


VENUES: dict[str, Factory] = {
    "binance": binance,
    "coinbase": coinbase,
}
