"""The publisher's restamp and the subscriber's header check equal the protocol's, byte for
byte and error for error."""

from __future__ import annotations

import struct

import pytest

from mesh.protocol import ExecutionResult, check_frame, encode_frame, restamp
from mesh.protocol.errors import FrameError
from mesh.pubsub import _checked_header, _restamp

FRAME = encode_frame([ExecutionResult(opportunity_id=3, amount_in=10**18)], source=42,
                     sequence=1, timestamp_ns=1_700_000_000_000_000_000)


@pytest.mark.parametrize("frame", [
    FRAME,
    bytearray(FRAME),
    encode_frame([ExecutionResult(opportunity_id=4)], source=7, with_checksum=False),
], ids=["bytes", "bytearray", "no-crc"])
def test_restamp_equals_the_protocols(frame):
    for seq, ts in ((2, 5), (2**64 - 1, 2**63), (0, 0)):
        assert _restamp(frame, seq, ts) == restamp(frame, sequence=seq, timestamp_ns=ts)


def _set(raw: bytes, fmt: str, offset: int, value: int) -> bytes:
    out = bytearray(raw)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


@pytest.mark.parametrize("raw", [
    FRAME[:20],                              # truncated header
    _set(FRAME, "<I", 0, 0x12345678),        # magic
    _set(FRAME, "<B", 4, 9),                 # domain
    FRAME[:-1],                              # truncated payload
    FRAME + b"\0",                           # trailing bytes
    _set(FRAME, "<I", 24, 1 << 21),          # oversize payload_size
    _set(FRAME, "<I", 28, 0),                # checksum zeroed
    _set(FRAME, "<B", 40, FRAME[40] ^ 1),    # payload flipped under the CRC
], ids=["short-header", "magic", "domain", "short-payload", "trailing", "oversize", "no-crc",
        "bad-crc"])
def test_header_check_raises_what_check_frame_raises(raw):
    with pytest.raises(FrameError) as want:
        check_frame(raw)
    with pytest.raises(FrameError) as got:
        _checked_header(raw)
    assert type(got.value) is type(want.value) and str(got.value) == str(want.value)


def test_header_check_returns_check_frames_header():
    assert _checked_header(FRAME) == check_frame(FRAME)
