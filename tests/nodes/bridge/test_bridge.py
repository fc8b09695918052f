"""The bridge between two "hosts" (two ring namespaces, two configs) over tcp loopback + CURVE.

Frames written into host A's ring arrive byte-identical and in order in host B's ring, where a
market-data :class:`mesh.rings.DomainReaders` (what a strategy holds) reads them; ring losses
at bridge-out and a bridge-out restart become counted gaps and invalidations, never silent
loss; unlisted or mismatched keys hear nothing; hostile messages are counted and dropped.
"""

from __future__ import annotations

import signal
import time

import zmq

from mesh.protocol import (
    BlockEnd,
    OrderBook,
    OrderLevel,
    PoolInvalidation,
    PoolSync,
    Quote,
    StateInvalidation,
    Trade,
    decode_frame,
    encode_frame,
)
from mesh.protocol.constants import InvalidationReason
from nodes.bridge.link import LinkKeys
from nodes.bridge.streams import BEAT_KEY, beat_frame, topic_head
from nodes.bridge.testing import SOURCE, bridge, metric, wait_until

POOL = bytes(range(1, 21))


def _market(n: int) -> list[bytes]:
    """``n`` frames of the market-data kinds, an extended 2.5 kB OrderBook every 50."""
    out = []
    for i in range(n):
        k = 4 if i % 50 == 4 else i % 4
        tlv = [Trade(asset_id=7, price=i, volume=2, venue=3),
               Quote(asset_id=8, bid_price=i, bid_size=1, ask_price=i + 1, ask_size=1, venue=3),
               PoolSync(pool_address=POOL, reserve0=i, reserve1=i + 1, venue=300),
               BlockEnd(block_number=i, chain_id=31337),
               OrderBook(asset_id=9, venue=3, precision_factor=10**8,
                         bids=tuple(OrderLevel.cls(price=100 - j, size=1, order_count=0)
                                    for j in range(20)))][k]
        out.append(encode_frame([tlv], source=1, sequence=i))
    return out


def _first(frame: bytes):
    return decode_frame(frame).tlvs[0]


def _invalidations(frames: list[bytes]) -> list:
    return [t for t in map(_first, frames) if isinstance(t, StateInvalidation | PoolInvalidation)]


def test_frames_cross_identical_and_losses_become_counted_invalidating_gaps():
    with bridge(feeder_capacity=1 << 16) as b:
        start = b.link_up()
        sent = _market(100)
        for f in sent:
            assert b.feeder.write(f)
        b.wait_frames(start + len(sent))
        assert [w for w, _ in b.got[start:]] == [SOURCE] * len(sent)
        assert b.frames()[-len(sent):] == sent  # exact bytes, in order

        # bridge-out is lapped: frozen while the writer laps its reader (64 KiB ring, 130 kB)
        b.a.proc.send_signal(signal.SIGSTOP)
        try:
            for f in _market(1200):
                b.feeder.write(f)
        finally:
            b.a.proc.send_signal(signal.SIGCONT)
        mark = encode_frame([Trade(asset_id=0xAAA, venue=3)], source=1, timestamp_ns=1)
        b.feeder.write(mark)
        wait_until(lambda: b.collect() >= 0 and mark in b.frames(), 60, "the marker")
        after = b.frames()[start + len(sent):]
        inval = _invalidations(after)
        assert {(type(t).__name__, t.venue) for t in inval} >= \
            {("StateInvalidation", 3), ("PoolInvalidation", 300)}
        assert all(t.reason == InvalidationReason.RECOVERY for t in inval)
        first_inval = min(i for i, f in enumerate(after)
                          if isinstance(_first(f), StateInvalidation | PoolInvalidation))
        assert first_inval < after.index(mark)
        lost_ring = metric(b.a.metrics_port, "alphapulse_bridge_lost_total", where="ring")
        lost_link = metric(b.b.metrics_port, "alphapulse_bridge_lost_total", where="link")
        assert lost_ring > 0
        assert lost_link >= lost_ring  # the ring's losses reached B as a gap (ZeroMQ adds any of its own)
        assert metric(b.b.metrics_port, "alphapulse_bridge_gaps_total", kind="gap") >= 1
        # every ring position between the first phase and the marker: written on B, or lost
        lapped = [f for f in after[:after.index(mark)]
                  if not isinstance(_first(f), StateInvalidation | PoolInvalidation)]
        assert len(lapped) + lost_link == 1200

        # bridge-out killed and restarted: a counted restart and invalidations, not silence
        before = len(b.got)
        b.a.stop(signal.SIGKILL)
        b.a.start()
        b.link_up()
        wait_until(lambda: metric(b.b.metrics_port, "alphapulse_bridge_gaps_total",
                                  kind="restart") >= 1, 30, "the restart counted")
        assert _invalidations([f for w, f in b.got[before:] if w == SOURCE])
        assert metric(b.b.metrics_port, "alphapulse_bridge_invalidations_total") >= 3


def test_unlisted_client_key_is_refused():
    with bridge(in_key="intruder") as b:
        wait_until(lambda: metric(b.a.metrics_port, "alphapulse_bridge_link_events_total",
                                  event="handshake_refused") >= 1, 60, "the refusal")
        b.feeder.write(_market(1)[0])
        time.sleep(0.5)
        b.collect()
        assert b.got == []


def test_server_without_the_pinned_key_is_never_heard():
    with bridge(server_key="impostor") as b:
        def failed() -> bool:
            b.feeder.write(_market(1)[0])
            return metric(b.a.metrics_port, "alphapulse_bridge_link_events_total",
                          event="handshake_failed") >= 1  # the server cannot read the hello
        wait_until(failed, 60, "the failed handshake")
        b.collect()
        assert b.got == []


def test_hostile_messages_are_counted_and_dropped():
    with bridge(start_out=False) as b:
        ctx = zmq.Context()
        keys = LinkKeys(b.a.keys, "bridge-out")  # a publisher holding the right key, misbehaving
        pub = ctx.socket(zmq.XPUB)
        pub.linger = 0
        try:
            keys.serve(ctx, pub)
            pub.bind(f"tcp://127.0.0.1:{b.port}")
            assert pub.poll(60_000), "bridge-in never subscribed"
            pub.recv()
            good = _market(1)[0]
            head = topic_head(SOURCE, 1)
            bad_crc = bytearray(good)
            bad_crc[-1] ^= 0xFF
            other_domain = encode_frame([Trade(asset_id=1)], source=1, domain=2)
            for parts in ([b"garbage"],
                          [b"garbage", b"more"],
                          [b"1/000/0000000000000000/x:zz:1", good],
                          [b"2/033/0000000000000000/" + SOURCE.encode() + b":" + b"0" * 16 + b":1",
                           good],
                          [head + b"1", bytes(bad_crc)],
                          [head + b"2", good + b"\x00"],
                          [head + b"3", other_domain],
                          [topic_head("nohost", 1) + b"1", good],
                          [topic_head("hostz--feeder", 1) + b"1", good],
                          [head + b"4", good]):
                pub.send_multipart(parts)
            wait_until(lambda: b.collect() >= 0 and b.got, 60, "the good frame")
            assert b.got == [(SOURCE, good)]

            # a beat says frames 5..9 were sent: lost at the tail, invalidated before frame 10
            pub.send_multipart([topic_head(SOURCE, 1, BEAT_KEY) + b"1",
                                beat_frame("bridge-out", 9, 1)])
            later = _market(2)[1]
            pub.send_multipart([head + b"3", later])  # older than the beat: dropped
            pub.send_multipart([head + b"a", later])
            wait_until(lambda: b.collect() >= 0 and len(b.got) >= 3, 60, "the frame after")
            assert [w for w, _ in b.got] == [SOURCE] * 3 and b.got[2][1] == later
            inval = _first(b.got[1][1])
            assert isinstance(inval, StateInvalidation) and inval.venue == 3
            assert metric(b.b.metrics_port, "alphapulse_bridge_lost_total", where="link") == 5
            assert metric(b.b.metrics_port, "alphapulse_bridge_gaps_total", kind="tail") == 1
            errors = {k: metric(b.b.metrics_port, "alphapulse_errors_total", kind=k)
                      for k in ("bad_multipart", "bad_topic", "bridge_wrong_topic",
                                "bad_checksum", "trailing_bytes", "bridge_wrong_domain",
                                "bridge_bad_source", "bridge_unknown_origin")}
            assert errors == {"bad_multipart": 1, "bad_topic": 2, "bridge_wrong_topic": 1,
                              "bad_checksum": 1, "trailing_bytes": 1,
                              "bridge_wrong_domain": 1, "bridge_bad_source": 1,
                              "bridge_unknown_origin": 1}
        finally:
            pub.close(0)
            keys.close()
            ctx.term()
