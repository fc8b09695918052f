"""cex.book and cex.frames: the integer L2 book and its OrderBook bytes."""

from __future__ import annotations

import random

from cex.book import L2Book
from cex.frames import order_book, order_book_tlv
from mesh.protocol import InstrumentId, OrderBook, VenueId, decode_frame, encode_frame

ETH = InstrumentId.coin(int(VenueId.BINANCE), "ETH/USDT")


def test_levels_are_set_absolutely_and_removed_at_zero() -> None:
    book = L2Book()
    book.load([(10, 1), (12, 2), (11, 0)], [(20, 1), (15, 3)], 5)
    book.apply([(13, 4), (10, 0), (9, 0)], [(15, 0), (16, 1)], 6)
    assert book.top(10) == ([(13, 4), (12, 2)], [(16, 1), (20, 1)])
    assert book.sequence == 6
    assert not book.crossed()
    book.apply([(16, 1)], [], 7)
    assert book.crossed()


def test_a_random_walk_matches_a_plain_dict_model() -> None:
    rng = random.Random(7)
    book = L2Book()
    model: tuple[dict[int, int], dict[int, int]] = ({}, {})
    for step in range(4000):
        bid = rng.random() < 0.5
        price, size = rng.randrange(1, 300), rng.choice([0, 0, 1, 2, 3])
        (book.bids if bid else book.asks).set(price, size)
        side = model[0 if bid else 1]
        if size:
            side[price] = size
        else:
            side.pop(price, None)
        if step % 97 == 0:
            bids = sorted(model[0].items(), reverse=True)[:50]
            asks = sorted(model[1].items())[:50]
            assert book.top(50) == (bids, asks)


def test_packed_order_book_equals_the_registry_encoding_as_the_book_changes() -> None:
    rng = random.Random(11)
    book = L2Book()
    book.load([(p * 10**6, p) for p in range(1, 120)], [(p * 10**6, p) for p in range(200, 330)],
              1)
    for step in range(1500):
        side = book.bids if rng.random() < 0.5 else book.asks
        side.set(rng.randrange(1, 330) * 10**6, rng.choice([0, 0, 1, 5]))
        book.sequence = step + 2
        if rng.random() < 0.2:
            packed = order_book_tlv(ETH, book, step)
            bids, asks = book.top(50)
            assert packed.encode_tlv() == order_book(ETH, bids, asks, step + 2,
                                                     step).encode_tlv()
    frame = decode_frame(encode_frame([order_book_tlv(ETH, book, 9)], source=1, domain=1))
    decoded = frame.tlvs[0]
    assert isinstance(decoded, OrderBook)
    assert [(lv.price, lv.size) for lv in decoded.bids] == book.bids.top(50)
    assert decoded.precision_factor == 100_000_000 and decoded.asset_id == ETH.asset_id


def test_an_empty_book_encodes_no_levels() -> None:
    frame = decode_frame(encode_frame([order_book_tlv(ETH, L2Book(), 1)], source=1, domain=1))
    assert frame.tlvs[0].bids == () and frame.tlvs[0].asks == ()  # type: ignore[union-attr]
