"""The CEX books the cexdex node sizes against, from collector-cex's frames.

Per instrument, the last ``OrderBook`` (up to 50 levels a side); an instrument without one has
its top of book from its last ``Quote`` (one level a side). Once an instrument has an OrderBook,
its Quotes are ignored (the book's levels are what the sizing walks). A ``StateInvalidation``
drops every book of its venue (and the instruments it names) until fresh data arrives.
Levels are checked: positive prices and sizes, bids strictly falling and asks strictly rising;
a book that breaks the rule is dropped and counted (``bad_book``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alphapulse.errors import AlphaPulseError
from mesh.protocol import OrderBook, Quote, StateInvalidation
from mesh.protocol.instrument import InstrumentId

#: Prices and sizes on the wire are × 1e8.
PRECISION = 100_000_000

Level = tuple[int, int]


class BadBook(AlphaPulseError):
    """A CEX book or quote the sizing cannot use: unsorted or non-positive levels, another
    precision than 1e8."""

    kind = "bad_book"


@dataclass(frozen=True, slots=True)
class Book:
    """One instrument's levels (× 1e8, best first), its exchange time and where it came from."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    timestamp_ns: int
    full: bool  # an OrderBook (True) or a Quote's top of book


def _check(levels: Sequence[Level], falling: bool) -> tuple[Level, ...]:
    prev = None
    for price, size in levels:
        if price <= 0 or size <= 0:
            raise BadBook(f"level ({price}, {size}) is not positive")
        if prev is not None and (price >= prev if falling else price <= prev):
            raise BadBook("levels out of order")
        prev = price
    return tuple(levels)


def _key(asset_id: int, venue: int, asset_type: int, reserved: int) -> int:
    return InstrumentId(asset_id, venue, asset_type, reserved).cache_key()


class CexBooks:
    """Books by instrument (``InstrumentId.cache_key()``)."""

    def __init__(self) -> None:
        self.books: dict[int, Book] = {}

    def get(self, key: int) -> Book | None:
        """The instrument's book, None when there is none (or it was invalidated)."""
        return self.books.get(key)

    def apply(self, msg: Quote | OrderBook | StateInvalidation) -> list[int]:
        """Apply one message; the instruments whose levels changed.

        Raises
        ------
        BadBook
            The message's levels cannot be used (the instrument's book is dropped first).
        """
        if isinstance(msg, StateInvalidation):
            gone = [k for k in self.books if InstrumentId.from_cache_key(k).venue == msg.venue]
            gone += [k for k in (_key(i.asset_id, i.venue, i.asset_type, i.reserved)
                                 for i in msg.instruments) if k in self.books and k not in gone]
            for k in gone:
                del self.books[k]
            return gone
        key = _key(msg.asset_id, msg.venue, msg.asset_type, msg.reserved)
        if isinstance(msg, Quote):
            held = self.books.get(key)
            if held is not None and held.full:
                return []
            bids = ((msg.bid_price, msg.bid_size),) if msg.bid_size else ()
            asks = ((msg.ask_price, msg.ask_size),) if msg.ask_size else ()
            book = self._book(key, bids, asks, msg.quote_timestamp_ns, False)
        else:
            if msg.precision_factor != PRECISION:
                self.books.pop(key, None)
                raise BadBook(f"precision factor {msg.precision_factor}, not {PRECISION}")
            book = self._book(key, tuple((lv.price, lv.size) for lv in msg.bids),
                              tuple((lv.price, lv.size) for lv in msg.asks), msg.snapshot_timestamp_ns, True)
        held = self.books.get(key)
        self.books[key] = book
        if held is not None and (held.bids, held.asks) == (book.bids, book.asks):
            return []  # the same levels, a newer time: nothing to evaluate again
        return [key]

    def _book(self, key: int, bids: Sequence[Level], asks: Sequence[Level], ts: int, full: bool) -> Book:
        try:
            return Book(_check(bids, True), _check(asks, False), ts, full)
        except BadBook:
            self.books.pop(key, None)
            raise
