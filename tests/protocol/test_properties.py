"""Property-based tests: every type round-trips; random and mutated bytes raise only FrameError."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh.protocol import REGISTRY, Frame, FrameError, UnknownTLV, decode_frame, encode_frame
from mesh.protocol.jsonform import frame_from_json, frame_to_json
from mesh.protocol.kernels import scan_pool_syncs

from .strategies import messages

TYPES = sorted(REGISTRY.values(), key=lambda c: c.TLV_TYPE)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.__name__)
@FAST
@given(data=st.data())
def test_every_type_round_trips_through_a_frame_and_through_json(cls, data):
    msg = data.draw(messages(cls))
    raw = encode_frame([msg], source=20, sequence=data.draw(st.integers(0, 2**64 - 1)))
    frame = decode_frame(raw)
    assert frame.tlvs == (msg,)
    assert frame_from_json(frame_to_json(frame)) == raw


@FAST
@given(data=st.data(), n=st.integers(1, 5))
def test_frames_of_several_tlvs_keep_their_order(data, n):
    tlvs = [data.draw(st.sampled_from(TYPES).flatmap(messages)) for _ in range(n)]
    tlvs.append(UnknownTLV(data.draw(st.integers(200, 254)), data.draw(st.binary(max_size=400))))
    frame = decode_frame(encode_frame(tlvs, source=1))
    assert list(frame.tlvs) == tlvs
    assert frame.unknown_count == 1


def _decode_or_error(data: bytes) -> Frame | FrameError:
    """Decode unchecked; a typed error is an accepted outcome, any other exception fails."""
    try:
        frame = decode_frame(data, verify_checksum=False)
    except FrameError as exc:
        assert exc.offset is None or 0 <= exc.offset <= len(data)
        return exc
    assert len(data) == 32 + frame.header.payload_size
    return frame


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_frame_errors(blob):
    assert isinstance(_decode_or_error(blob), FrameError | Frame)
    assert isinstance(_decode_or_error(b"\xef\xbe\xad\xde" + blob), FrameError | Frame)


@st.composite
def valid_frames(draw):
    tlvs = [draw(st.sampled_from(TYPES).flatmap(messages))
            for _ in range(draw(st.integers(1, 3)))]
    return encode_frame(tlvs, source=4, sequence=draw(st.integers(0, 1000)))


@settings(max_examples=300, deadline=None)
@given(valid_frames(), st.data())
def test_any_single_byte_change_is_rejected_with_a_typed_error(frame, data):
    pos = data.draw(st.integers(0, len(frame) - 1))
    delta = data.draw(st.integers(1, 255))
    mutated = bytearray(frame)
    mutated[pos] ^= delta
    with pytest.raises(FrameError):
        decode_frame(bytes(mutated))


@settings(max_examples=300, deadline=None)
@given(valid_frames(), st.data())
def test_mutated_unchecked_frames_decode_or_raise_typed_errors(frame, data):
    mutated = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 8))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    assert isinstance(_decode_or_error(bytes(mutated[:cut])), FrameError | Frame)
    assert isinstance(_decode_or_error(bytes(mutated) + b"\0"), FrameError | Frame)
    assert isinstance(_decode_or_error(bytes(mutated)), FrameError | Frame)


@settings(max_examples=200, deadline=None)
@given(st.lists(valid_frames(), min_size=1, max_size=4), st.binary(max_size=64), st.data())
def test_numba_scanner_survives_hostile_buffers(frames, junk, data):
    raw = bytearray(b"".join(frames) + junk)
    for _ in range(data.draw(st.integers(0, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    buf = np.frombuffer(bytes(raw), np.uint8)
    out = np.zeros((8, 4), np.uint64), np.zeros(8, np.uint64), np.zeros((8, 3), np.uint64)
    syncs, seen, errors, consumed = scan_pool_syncs(buf, buf.size, *out)
    assert 0 <= consumed <= buf.size
    assert syncs <= seen <= len(frames) + len(raw) // 32 + 1
    assert errors <= seen + 1
