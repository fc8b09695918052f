"""Walking a book side: the fills a taker order gets, in integers, without touching the book.

Prices and quantities are integers x 1e8; the quote amount of a fill is
``price * qty // 1e8`` (truncated at 8 decimals, the exchange's quote precision).
"""

from __future__ import annotations

from dataclasses import dataclass

from cex.book import BookSide
from cex.fixed import SCALE


def quote_of(price: int, qty: int) -> int:
    """Quote amount of ``qty`` at ``price``, truncated to 1e-8."""
    return price * qty // SCALE


def quote_ceil(price: int, qty: int) -> int:
    """Quote amount of ``qty`` at ``price``, rounded up to 1e-8 (what a buy order locks)."""
    return -(-price * qty // SCALE)


def fee_of(amount: int, rate: int) -> int:
    """Commission on ``amount`` at ``rate`` (x 1e8, 0.001 = 100_000), rounded up to 1e-8."""
    return -(-amount * rate // SCALE)


@dataclass(frozen=True, slots=True)
class Take:
    """One level's part of a fill: ``qty`` at ``price`` (quote ``quote``)."""

    price: int
    qty: int
    quote: int


def walk(side: BookSide, buy: bool, limit: int | None, qty: int | None,
         quote_qty: int | None, step: int) -> tuple[list[Take], bool]:
    """The takes a taker order gets from ``side`` (asks for a buy, bids for a sell).

    Parameters
    ----------
    side : BookSide
        The opposite side of the book, best first.
    buy : bool
        The taker buys (walks asks upward) or sells (walks bids downward).
    limit : int | None
        A limit price: levels beyond it are not taken. None: a market order.
    qty : int | None
        Base quantity wanted; or None with ``quote_qty``.
    quote_qty : int | None
        Quote amount to spend (buy) or receive (sell): each level's quantity is the largest
        multiple of ``step`` the rest of the amount pays for.
    step : int
        The LOT_SIZE step.

    Returns
    -------
    (takes, exhausted)
        The takes in order, and True when the side (or the limit) ran out before the order
        was complete.
    """
    takes: list[Take] = []
    left_qty, left_quote = qty, quote_qty
    for price, size in side.levels():
        if limit is not None and (price > limit if buy else price < limit):
            return takes, True
        if left_qty is not None:
            take = min(size, left_qty)
        else:
            assert left_quote is not None
            cap = left_quote * SCALE // price
            cap -= cap % step
            take = min(size, cap)
        if take <= 0:
            return takes, False
        quote = quote_of(price, take)
        takes.append(Take(price, take, quote))
        if left_qty is not None:
            left_qty -= take
            if left_qty == 0:
                return takes, False
        else:
            assert left_quote is not None
            left_quote -= quote
    return takes, True


def consume(side: BookSide, takes: list[Take]) -> None:
    """Take the filled quantities out of the book."""
    for t in takes:
        size = side.sizes.get(t.price, 0)
        side.set(t.price, max(size - t.qty, 0))
