"""The server's market: one integer L2 book per symbol, the book paper orders fill against.

In replay mode the book is what the script served and sent: a scripted ``/api/v3/depth``
answer loads it, scripted ``depthUpdate`` messages update it. In live mode the devnet follower
writes it. Paper fills take liquidity out of it, so the next order sees what is left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cex.book import L2Book, Level
from cex.errors import CexError
from cex.fixed import parse_q8


def levels_of(raw: Any) -> list[Level]:
    """``[["price", "qty"], ...]`` as integer levels (raises CexError on bad input)."""
    if not isinstance(raw, list):
        raise CexError("levels must be a list")
    out: list[Level] = []
    for item in raw:
        if not isinstance(item, list) or len(item) < 2:
            raise CexError("a level is [price, quantity]")
        out.append((parse_q8(item[0]), parse_q8(item[1])))
    return out


class Market:
    """Books by symbol, and listeners told when a book changed."""

    def __init__(self, symbols: list[str]) -> None:
        self.books: dict[str, L2Book] = {s: L2Book() for s in symbols}
        self.listeners: list[Callable[[str], None]] = []
        self.ignored = 0

    def book(self, symbol: str) -> L2Book | None:
        """The symbol's book, None for a symbol the server does not have."""
        return self.books.get(symbol)

    def changed(self, symbol: str) -> None:
        """Tell the listeners (resting paper orders) that ``symbol``'s book changed."""
        for listener in self.listeners:
            listener(symbol)

    def observe_rest(self, path: str, symbol: str | None, value: Any) -> None:
        """A scripted REST answer went out: a depth snapshot loads the symbol's book."""
        book = self.books.get(symbol or "")
        if path != "/api/v3/depth" or book is None or not isinstance(value, dict):
            return
        try:
            bids, asks = levels_of(value.get("bids")), levels_of(value.get("asks"))
            book.load(bids, asks, int(value.get("lastUpdateId", 0)))
        except (CexError, TypeError, ValueError):
            self.ignored += 1
            return
        self.changed(symbol or "")

    def observe_sent(self, value: Any) -> None:
        """A scripted Binance message went out: a ``depthUpdate`` updates its symbol's book."""
        data = value.get("data", value) if isinstance(value, dict) else None
        if not isinstance(data, dict) or data.get("e") != "depthUpdate":
            return
        book = self.books.get(str(data.get("s", "")))
        if book is None:
            return
        try:
            book.apply(levels_of(data.get("b")), levels_of(data.get("a")), int(data.get("u", 0)))
        except (CexError, TypeError, ValueError):
            self.ignored += 1
            return
        self.changed(str(data["s"]))
