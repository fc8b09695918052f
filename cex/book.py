"""A local L2 order book in integers (prices and sizes x 1e8), with its top N levels.

Each side is a dict price -> size plus a sorted list of keys, best first (bids are kept as
negated prices so both lists sort ascending). Setting a level is a dict store plus, for a new
price, a ``bisect.insort``; a size of 0 removes the level. The top N of a side is a slice.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

TOP = 50
"""The depth whose changes set :attr:`BookSide.top_dirty` (the OrderBook message's levels)."""

Level = tuple[int, int]
"""(price, size), both x 1e8."""


class BookSide:
    """One side of a book: price -> size and the prices sorted best first.

    Parameters
    ----------
    bids : bool
        True for the bid side (best = highest price), False for asks (best = lowest).
    """

    __slots__ = ("_keys", "_sign", "cache", "sizes", "top_dirty")

    def __init__(self, bids: bool) -> None:
        self.sizes: dict[int, int] = {}
        self._keys: list[int] = []          # sign * price, ascending = best first
        self._sign = -1 if bids else 1
        self.top_dirty = True
        """True when a change reached the best :data:`TOP` levels since the flag was reset
        (the encoder of the top levels keeps its bytes in ``cache`` meanwhile)."""
        self.cache: object = None

    def __len__(self) -> int:
        return len(self.sizes)

    def set(self, price: int, size: int) -> None:
        """Set the level at ``price`` to ``size``; a size of 0 removes it (absent: no-op)."""
        sizes, keys = self.sizes, self._keys
        key = self._sign * price
        if len(keys) <= TOP or key <= keys[TOP - 1]:
            self.top_dirty = True
        if size:
            if price not in sizes:
                insort(keys, key)
            sizes[price] = size
        elif price in sizes:
            del sizes[price]
            del keys[bisect_left(keys, key)]

    def replace(self, levels: Iterable[Level]) -> None:
        """Forget every level and load ``levels`` (a snapshot); zero sizes are skipped."""
        sizes = {p: s for p, s in levels if s}
        self.sizes = sizes
        sign = self._sign
        self._keys = sorted(sign * p for p in sizes)
        self.top_dirty = True

    def clear(self) -> None:
        """Remove every level."""
        self.sizes = {}
        self._keys = []
        self.top_dirty = True

    def best(self) -> Level | None:
        """The best level, or None if the side is empty."""
        if not self._keys:
            return None
        price = self._sign * self._keys[0]
        return price, self.sizes[price]

    def top(self, n: int) -> list[Level]:
        """The best ``n`` levels, best first."""
        sign, sizes = self._sign, self.sizes
        return [(sign * k, sizes[sign * k]) for k in self._keys[:n]]

    def top_pairs(self, n: int) -> list[int]:
        """The best ``n`` levels flattened as price, size, price, size, ... (C-level loops:
        the OrderBook encoder's input)."""
        keys = self._keys[:n]
        prices = [-k for k in keys] if self._sign < 0 else keys
        flat: list[int] = [0] * (2 * len(prices))
        flat[0::2] = prices
        flat[1::2] = map(self.sizes.__getitem__, prices)
        return flat

    def levels(self) -> list[Level]:
        """Every level, best first."""
        return self.top(len(self._keys))


class L2Book:
    """A price-level book: bids, asks and the venue's sequence of its last applied update.

    Attributes
    ----------
    bids, asks : BookSide
        The two sides.
    sequence : int
        The venue's update id (or sequence number) the book is at; 0 before a snapshot.
    """

    __slots__ = ("asks", "bids", "sequence")

    def __init__(self) -> None:
        self.bids = BookSide(bids=True)
        self.asks = BookSide(bids=False)
        self.sequence = 0

    def load(self, bids: Iterable[Level], asks: Iterable[Level], sequence: int) -> None:
        """Replace the whole book with a snapshot at ``sequence``."""
        self.bids.replace(bids)
        self.asks.replace(asks)
        self.sequence = sequence

    def apply(self, bids: Iterable[Level], asks: Iterable[Level], sequence: int) -> None:
        """Apply one update's changed levels (absolute sizes; 0 removes) at ``sequence``."""
        side = self.bids
        for price, size in bids:
            side.set(price, size)
        side = self.asks
        for price, size in asks:
            side.set(price, size)
        self.sequence = sequence

    def clear(self) -> None:
        """Forget everything (a disconnection or a gap); sequence back to 0."""
        self.bids.clear()
        self.asks.clear()
        self.sequence = 0

    def crossed(self) -> bool:
        """True if both sides are set and the best bid is at or above the best ask."""
        bid, ask = self.bids.best(), self.asks.best()
        return bid is not None and ask is not None and bid[0] >= ask[0]

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        """The best ``n`` bids (highest first) and asks (lowest first)."""
        return self.bids.top(n), self.asks.top(n)
