"""Venue events -> protocol messages: Trade, Quote, OrderBook and StateInvalidation.

Trade and Quote are the registry's message classes. An OrderBook is 2456 bytes of 100 level
records, which the generic encoder builds in about 45 µs; :func:`order_book_tlv` packs the same
bytes with one precompiled struct per side and returns them as an
:class:`~mesh.protocol.UnknownTLV` of type 3, which ``encode_frame`` writes as it is (a reader
decodes it as an ordinary OrderBook; tests check both encodings are identical).
"""

from __future__ import annotations

import struct

from cex.book import BookSide, L2Book, Level
from cex.fixed import SCALE
from mesh.protocol import (
    InstrumentId,
    Message,
    OrderBook,
    Quote,
    StateInvalidation,
    Trade,
    UnknownTLV,
)
from mesh.protocol.constants import InvalidationReason
from mesh.protocol.messages.market import OrderLevel
from mesh.protocol.messages.upstream_system import InstrumentIdRecord

Frame = list[Message | UnknownTLV]
"""One frame's messages, in wire order (an OrderBook may come pre-encoded)."""

BOOK_LEVELS = 50
"""Levels per side of an OrderBook message."""

SIDE_BUY = 0
SIDE_SELL = 1

_OB_TYPE = OrderBook.TLV_TYPE
_HEAD = struct.Struct("<QQqQHBB4x")
_LEVEL_SIZE = 24
# An OrderLevel is price i64, size i64, order_count u32, 4 bytes of padding; order_count is
# always 0 here, so it is packed as 8 zero bytes with the padding.
_SIDES = [struct.Struct("<H6x" + "qq8x" * n + f"{(BOOK_LEVELS - n) * _LEVEL_SIZE}x")
          for n in range(BOOK_LEVELS + 1)]
_INVALIDATION_MAX = 16


def trade(instrument: InstrumentId, price: int, volume: int, time_ns: int, side: int
          ) -> Trade:
    """A Trade message: ``price``/``volume`` x 1e8, ``side`` the taker's (0 buy, 1 sell)."""
    return Trade(asset_id=instrument.asset_id, price=price, volume=volume,
                 execution_timestamp_ns=time_ns, venue=instrument.venue,
                 asset_type=instrument.asset_type, reserved=instrument.reserved, side=side)


def quote(instrument: InstrumentId, bid: Level, ask: Level, time_ns: int) -> Quote:
    """A Quote message from the best (price, size) of each side, x 1e8."""
    return Quote(asset_id=instrument.asset_id, bid_price=bid[0], bid_size=bid[1],
                 ask_price=ask[0], ask_size=ask[1], quote_timestamp_ns=time_ns,
                 venue=instrument.venue, asset_type=instrument.asset_type,
                 reserved=instrument.reserved)


def _side(levels: list[Level]) -> bytes:
    flat: list[int] = []
    for price, size in levels:
        flat += (price, size)
    return _SIDES[len(levels)].pack(len(levels), *flat)


def order_book_value(instrument: InstrumentId, bids: list[Level], asks: list[Level],
                     sequence: int, time_ns: int) -> bytes:
    """The 2456-byte value of an OrderBook message (at most 50 levels per side, best first)."""
    head = _HEAD.pack(time_ns, sequence, SCALE, instrument.asset_id, instrument.venue,
                      instrument.asset_type, instrument.reserved)
    return head + _side(bids[:BOOK_LEVELS]) + _side(asks[:BOOK_LEVELS])


def _packed_side(side: BookSide) -> bytes:
    """The side's top 50 levels as wire bytes, re-packed only when they changed."""
    if side.top_dirty or side.cache is None:
        flat = side.top_pairs(BOOK_LEVELS)
        n = len(flat) // 2
        side.cache = _SIDES[n].pack(n, *flat)
        side.top_dirty = False
    return side.cache  # type: ignore[return-value]


def order_book_tlv(instrument: InstrumentId, book: L2Book, time_ns: int) -> UnknownTLV:
    """The book's top 50 levels per side as an encoded OrderBook TLV (``sequence`` = the
    book's update id)."""
    head = _HEAD.pack(time_ns, book.sequence, SCALE, instrument.asset_id, instrument.venue,
                      instrument.asset_type, instrument.reserved)
    return UnknownTLV(_OB_TYPE, head + _packed_side(book.bids) + _packed_side(book.asks))


def order_book(instrument: InstrumentId, bids: list[Level], asks: list[Level], sequence: int,
               time_ns: int) -> OrderBook:
    """The same OrderBook as a registry message (slow; for tests and tools)."""
    level = OrderLevel.cls
    return OrderBook(snapshot_timestamp_ns=time_ns, sequence=sequence, precision_factor=SCALE,
                     asset_id=instrument.asset_id, venue=instrument.venue,
                     asset_type=instrument.asset_type, reserved=instrument.reserved,
                     bids=tuple(level(p, s, 0) for p, s in bids[:BOOK_LEVELS]),
                     asks=tuple(level(p, s, 0) for p, s in asks[:BOOK_LEVELS]))


def invalidations(venue: int, instruments: list[InstrumentId], reason: InvalidationReason,
                  time_ns: int, sequence: int = 0) -> list[Frame]:
    """StateInvalidation frames naming ``instruments`` (16 per message, one per frame)."""
    frames: list[Frame] = []
    for i in range(0, len(instruments), _INVALIDATION_MAX):
        chunk = instruments[i:i + _INVALIDATION_MAX]
        records = tuple(InstrumentIdRecord.cls(asset_id=x.asset_id, venue=x.venue,
                                               asset_type=x.asset_type, reserved=x.reserved)
                        for x in chunk)
        frames.append([StateInvalidation(sequence=sequence, timestamp_ns=time_ns,
                                         instruments=records, venue=venue,
                                         reason=int(reason))])
    return frames
