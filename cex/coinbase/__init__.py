"""Coinbase Advanced Trade market data: message parsing, optional JWT auth, :class:`CoinbaseFeed`.

``messages`` turns the websocket's JSON into integer records, ``times`` parses its RFC 3339
times to nanoseconds exactly, ``auth`` signs the optional subscribe JWTs, and ``feed`` is the
:class:`~cex.feed.VenueFeed` the collector-cex node drives (docs/cex-collectors.md).
"""

from cex.coinbase.feed import CHANNELS, COINBASE_WS, CoinbaseFeed

__all__ = ["CHANNELS", "COINBASE_WS", "CoinbaseFeed"]
