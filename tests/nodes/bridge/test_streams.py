"""Source names, topics and what a source's frames make a consumer hold (no processes)."""

from __future__ import annotations

import pytest

from alphapulse.errors import ConfigError
from mesh.protocol import (
    BlockEnd,
    OrderBook,
    OrderLevel,
    PoolInvalidation,
    PoolState,
    PoolSync,
    Quote,
    StateInvalidation,
    StateInvalidationReason,
    Trade,
    decode_frame,
    encode_frame,
)
from mesh.protocol.constants import InvalidationReason
from mesh.topics import parse_topic
from nodes.bridge.streams import (
    BEAT_KEY,
    BadSource,
    SourceHoldings,
    beat_frame,
    check_origin,
    is_bridged,
    source_name,
    split_source,
    topic_head,
)

POOL = bytes(range(1, 21))


def _frame(*tlvs):
    return encode_frame(list(tlvs), source=1)


def test_source_names_round_trip_and_bad_ones_are_refused():
    name = source_name("hosta", "collector-evm")
    assert name == "hosta--collector-evm" and is_bridged(name)
    assert split_source(name) == ("hosta", "collector-evm")
    for bad in ("hosta", "hosta--", "host-a--x", "a--b/c", "x" * 70):
        with pytest.raises(BadSource):
            split_source(bad)
    with pytest.raises(BadSource):
        source_name("hosta", "w" * 64)
    with pytest.raises(ConfigError):
        check_origin("host-a")
    assert check_origin("")  # the host's name, made fit


def test_topic_is_a_mesh_topic_of_one_stream_per_source_and_one_of_its_beats():
    t = parse_topic(topic_head("hosta--feeder", 0x1234) + b"2a")
    assert (t.domain, t.tlv_type, t.key, t.publisher, t.run, t.stream_seq) == \
        (1, 0, 0, "hosta--feeder", 0x1234, 42)
    beat = parse_topic(topic_head("hosta--feeder", 0x1234, BEAT_KEY) + b"1")
    assert (beat.key, beat.stream) != (t.key, t.stream)
    hb = decode_frame(beat_frame("bridge-out", 77, 5))
    assert hb.header.domain == 1 and hb.tlvs[0].frames_out == 77


def test_holdings_invalidate_every_venue_and_pool_once():
    h = SourceHoldings()
    h.note(_frame(Trade(asset_id=1, venue=3)))
    h.note(_frame(Quote(asset_id=2, venue=4)))
    h.note(_frame(OrderBook(asset_id=3, venue=5)))  # an extended TLV
    h.note(_frame(PoolSync(pool_address=POOL, venue=300)))
    h.note(_frame(BlockEnd(block_number=77, chain_id=31337)))
    h.note(b"\x00" * 10)  # too short to say anything: ignored
    frames = [decode_frame(f) for f in h.invalidations(now_ns=5)]
    states = [f.tlvs[0] for f in frames if isinstance(f.tlvs[0], StateInvalidation)]
    assert sorted(s.venue for s in states) == [3, 4, 5]
    assert all(s.reason == InvalidationReason.RECOVERY for s in states)
    pools = [f.tlvs for f in frames if isinstance(f.tlvs[0], PoolInvalidation)]
    assert len(pools) == 1
    inv, reason = pools[0]
    assert (inv.pool_address, inv.venue, inv.block_number, inv.chain_id) == (POOL, 300, 77, 31337)
    assert isinstance(reason, StateInvalidationReason)
    assert all(f.header.domain == 1 for f in frames)
    assert h.invalidations() == []  # forgotten once invalidated


def test_a_pool_the_source_invalidated_itself_is_not_held():
    h = SourceHoldings()
    h.note(_frame(PoolSync(pool_address=POOL, venue=300)))
    h.note(_frame(PoolInvalidation(pool_address=POOL, venue=300)))
    assert h.invalidations() == []


def test_consumers_drop_what_the_invalidations_name():
    """The EVM reference consumer drops the pool, cexdex's books drop the venue's books."""
    from nodes.cexdex.books import CexBooks
    from nodes.collector_evm.replica import Replica

    held = [_frame(PoolState(pool_address=POOL, reserve0=5, reserve1=6, venue=300,
                             block_number=9)),
            _frame(OrderBook(asset_id=9, venue=3, precision_factor=10**8,
                             bids=(OrderLevel.cls(price=100, size=1, order_count=0),),
                             asks=(OrderLevel.cls(price=101, size=1, order_count=0),))),
            _frame(BlockEnd(block_number=9, chain_id=31337))]
    h, replica, books = SourceHoldings(), Replica(), CexBooks()
    for raw in held:
        h.note(raw)
        replica.apply_raw([raw])
        for tlv in decode_frame(raw).tlvs:
            if isinstance(tlv, OrderBook):
                books.apply(tlv)
    assert POOL in replica.pools and books.books
    for raw in h.invalidations():
        replica.apply_raw([raw])
        for tlv in decode_frame(raw).tlvs:
            if isinstance(tlv, StateInvalidation):
                books.apply(tlv)
    assert POOL not in replica.pools and POOL in replica.invalidated
    assert not books.books
