"""The lean hot path keeps every check: publish_frame numbering, lazy deliveries, frame checks."""

from __future__ import annotations

import struct
import zlib

import pytest
import zmq

from mesh.protocol import ArbitrageSignal, ExecutionResult, check_frame, decode_frame, encode_frame
from mesh.protocol.errors import FrameError
from mesh.pubsub import Publisher, Subscriber
from mesh.sequence import Verdict
from mesh.topics import prefix, run_prefix, stream_prefix
from tests.mesh.test_pubsub import _wait_joined


def _with_crc(frame: bytes) -> bytes:
    crc = zlib.crc32(frame[32:], zlib.crc32(frame[:28]))
    return frame[:28] + struct.pack("<I", crc) + frame[32:]


def test_publish_frame_restamps_and_numbers_like_publish(mesh):
    cfg, ctx = mesh
    pub = Publisher(ctx, cfg, "a", source=42)
    sub = Subscriber(ctx, cfg, ["a"], [prefix(3, 50)], lazy=True)
    try:
        _wait_joined(pub, sub, ExecutionResult(opportunity_id=0, strategy_id=9))
        frame = encode_frame([ExecutionResult(opportunity_id=5, strategy_id=9)], source=42,
                             sequence=777)
        pub.publish([ExecutionResult(opportunity_id=4, strategy_id=9)])
        seq = pub.publish_frame(frame, 50, 9)
        a, b = sub.recv(500), sub.recv(500)
        assert a.topic.stream_seq + 1 == b.topic.stream_seq  # one stream, one counter
        assert b.header.sequence == seq == pub.sequence and b.verdict is Verdict.NEXT
        assert decode_frame(b.raw).tlvs[0].opportunity_id == 5  # fresh CRC, same TLVs
        assert pub.journal.entries[-1][0] == seq  # journaled like publish()
        assert sub.stats.errors == {}
    finally:
        sub.close()
        pub.close()


def test_lazy_delivery_decodes_on_access_and_counts_a_bad_payload_once(mesh):
    cfg, ctx = mesh
    pub = Publisher(ctx, cfg, "a", source=42)
    lazy = Subscriber(ctx, cfg, ["a"], [prefix(3, 50)], lazy=True)
    eager = Subscriber(ctx, cfg, ["a"], [prefix(3, 50)])
    try:
        probe = ExecutionResult(opportunity_id=0, strategy_id=9)
        _wait_joined(pub, lazy, probe)
        _wait_joined(pub, eager, probe)
        while lazy.recv(100) is not None:  # the eager one's probes
            pass
        good = encode_frame([ExecutionResult(opportunity_id=1, strategy_id=9)], source=42)
        # A TLV one byte short of its layout under a valid CRC: only the decode can tell.
        bad = bytearray(good[:-1])
        bad[24:28] = struct.pack("<I", len(bad) - 32)
        bad[33] -= 1
        pub.publish_frame(good, 50, 9)
        pub.publish_frame(_with_crc(bytes(bad)), 50, 9)
        d1, d2 = lazy.recv(500), lazy.recv(500)
        assert not d1.decoded and d1.frame.tlvs[0].opportunity_id == 1 and d1.decoded
        for _ in range(2):
            with pytest.raises(FrameError) as info:
                d2.frame  # noqa: B018
            assert info.value is d2.error
        assert lazy.stats.errors == {"bad_tlv_size": 1}
        # The eager subscriber skips it on arrival, counted the same way.
        assert eager.recv(500).frame.tlvs[0].opportunity_id == 1
        assert eager.recv(300) is None and eager.stats.errors == {"bad_tlv_size": 1}
    finally:
        lazy.close()
        eager.close()
        pub.close()


def _wait_raw_joined(raw: zmq.Socket, sub: Subscriber, timeout_ms: int = 5000) -> None:
    """Send well-formed probes from a raw PUB until one arrives, then drain them."""
    head = run_prefix(stream_prefix(2, 32, 0, "b"), 1)  # not journaled: no recovery asked
    frame = encode_frame([ArbitrageSignal(signal_id=0)], source=42)
    for n in range(1, timeout_ms // 50 + 1):
        raw.send_multipart([b"%s%x" % (head, n), frame])
        if sub.recv(50) is not None:
            while sub.recv(20) is not None:
                pass
            return
    raise AssertionError("the raw publisher's subscription never arrived")


@pytest.mark.parametrize("mangle", [
    lambda f: f[:10], lambda f: f[:-3], lambda f: f + b"\0", lambda f: b"\0" + f[1:],
    lambda f: f[:40] + bytes([f[40] ^ 1]) + f[41:], lambda f: f[:4] + b"\x09" + f[5:],
])
def test_check_frame_raises_what_decode_frame_raises(mangle):
    raw = mangle(encode_frame([ExecutionResult(opportunity_id=3)], source=42, sequence=1))
    with pytest.raises(FrameError) as want:
        decode_frame(raw)
    with pytest.raises(FrameError) as got:
        check_frame(raw)
    assert type(got.value) is type(want.value) and str(got.value) == str(want.value)


def test_subscriber_counts_bad_multipart_and_keeps_the_next_message(mesh):
    cfg, ctx = mesh
    raw = ctx.socket(zmq.PUB)
    raw.bind(cfg.node("b").pub)
    pub = Publisher(ctx, cfg, "a", source=42)
    sub = Subscriber(ctx, cfg, ["a", "b"], [b""], lazy=True)
    try:
        _wait_joined(pub, sub, ExecutionResult(opportunity_id=0))
        _wait_raw_joined(raw, sub)
        raw.send(b"3/050/one-part")
        raw.send_multipart([b"3/050/x", b"y", b"z"])
        pub.publish([ExecutionResult(opportunity_id=8)])
        got = []
        while (d := sub.recv(300)) is not None:
            got.append(d.frame.tlvs[0].opportunity_id)
        assert got == [8]
        assert sub.stats.errors == {"bad_multipart": 2}
    finally:
        raw.close(0)
        sub.close()
        pub.close()
