"""Each malformed frame raises its own typed error naming the offset; limits are enforced."""

from __future__ import annotations

import struct

import pytest

from alphapulse.errors import AlphaPulseError, ProtocolError
from mesh.protocol import (
    BadChecksum,
    BadExtendedTLV,
    BadFieldValue,
    BadMagic,
    BadTLVSize,
    GasPrice,
    Heartbeat,
    Oversize,
    PoolSync,
    TLVOverrun,
    TrailingBytes,
    TruncatedFrame,
    TruncatedHeader,
    TruncatedTLV,
    UnknownDomain,
    UnknownTLV,
    decode_frame,
    encode_frame,
    tlv_bytes,
)
from mesh.protocol.header import frame_checksum


def _frame(*tlvs, **kw) -> bytes:
    return encode_frame(list(tlvs) or [GasPrice(block_number=7)], source=61, sequence=1, **kw)


def _with_payload(payload: bytes, domain: int = 1) -> bytes:
    """A frame with an arbitrary payload and a correct checksum."""
    head = bytearray(struct.pack("<IBBBBQQII", 0xDEADBEEF, domain, 1, 61, 0, 1, 2, len(payload), 0))
    frame = head + payload
    struct.pack_into("<I", frame, 28, frame_checksum(frame))
    return bytes(frame)


def test_errors_belong_to_the_one_error_tree():
    with pytest.raises(ProtocolError) as info:
        decode_frame(b"")
    assert isinstance(info.value, AlphaPulseError)
    assert info.value.kind == "truncated_header"


def test_bad_magic_names_offset_zero():
    frame = bytearray(_frame())
    frame[0] = 0
    with pytest.raises(BadMagic) as info:
        decode_frame(bytes(frame))
    assert info.value.offset == 0


def test_short_header_is_truncated_header():
    with pytest.raises(TruncatedHeader):
        decode_frame(_frame()[:31])


def test_missing_payload_bytes_is_truncated_frame():
    frame = _frame()
    with pytest.raises(TruncatedFrame) as info:
        decode_frame(frame[:-1])
    assert info.value.offset == len(frame) - 1


def test_extra_bytes_are_trailing_bytes():
    frame = _frame()
    with pytest.raises(TrailingBytes) as info:
        decode_frame(frame + b"\0")
    assert info.value.offset == len(frame)


def test_flipped_payload_bit_is_bad_checksum_at_28():
    frame = bytearray(_frame())
    frame[40] ^= 1
    with pytest.raises(BadChecksum) as info:
        decode_frame(bytes(frame))
    assert info.value.offset == 28


def test_zero_checksum_is_accepted_only_when_allowed():
    frame = _frame(with_checksum=False)
    assert frame[28:32] == b"\0\0\0\0"
    with pytest.raises(BadChecksum):
        decode_frame(frame)
    assert decode_frame(frame, allow_zero_checksum=True).tlvs[0].block_number == 7


@pytest.mark.parametrize("domain", [0, 5, 255])
def test_domain_outside_one_to_four_is_unknown_domain(domain):
    with pytest.raises(UnknownDomain) as info:
        decode_frame(_with_payload(tlv_bytes(18, bytes(32)), domain=domain))
    assert info.value.offset == 4


def test_tlv_header_cut_off_is_truncated_tlv():
    with pytest.raises(TruncatedTLV) as info:
        decode_frame(_with_payload(tlv_bytes(18, bytes(32)) + b"\x12"))
    assert info.value.offset == 32 + 34


def test_extended_header_cut_off_is_truncated_tlv():
    with pytest.raises(TruncatedTLV):
        decode_frame(_with_payload(b"\xff\x00\x03\x10"))


def test_tlv_running_past_payload_is_overrun():
    with pytest.raises(TLVOverrun) as info:
        decode_frame(_with_payload(b"\x12\x20" + bytes(31)))
    assert info.value.offset == 32


def test_extended_tlv_with_nonzero_reserved_byte_is_rejected():
    with pytest.raises(BadExtendedTLV) as info:
        decode_frame(_with_payload(b"\xff\x01\xca\x01\x00\xaa"))
    assert info.value.offset == 33


def test_known_type_with_wrong_length_is_bad_tlv_size():
    with pytest.raises(BadTLVSize) as info:
        decode_frame(_with_payload(tlv_bytes(16, bytes(150))))
    assert info.value.offset == 34


def test_payload_size_over_one_mebibyte_is_oversize():
    head = struct.pack("<IBBBBQQII", 0xDEADBEEF, 1, 1, 1, 0, 0, 0, 1 << 20, 0)
    with pytest.raises(Oversize) as info:
        decode_frame(head)
    assert info.value.offset == 24


def test_encoding_over_one_mebibyte_is_oversize():
    with pytest.raises(Oversize):
        encode_frame([UnknownTLV(202, bytes(65_535))] * 17, source=1)


def test_tlv_value_over_65535_bytes_is_oversize():
    with pytest.raises(Oversize):
        tlv_bytes(202, bytes(65_536))


def test_tlv_form_switches_at_256_bytes():
    assert tlv_bytes(202, bytes(255))[:2] == b"\xca\xff"
    assert tlv_bytes(202, bytes(256))[:5] == b"\xff\x00\xca\x00\x01"


def test_known_type_in_extended_form_is_accepted():
    value = GasPrice(block_number=9).encode_value()
    ext = b"\xff\x00\x12" + struct.pack("<H", len(value)) + value
    assert decode_frame(_with_payload(ext)).tlvs[0].block_number == 9


@pytest.mark.parametrize(("fields", "needle"), [
    ({"reserve0": -1}, "out of range"),
    ({"reserve0": 2**128}, "out of range"),
    ({"pool_address": b"\x01" * 19}, "20 bytes"),
    ({"pool_address": "0x" + "00" * 20}, "20 bytes"),
    ({"venue": 70_000}, "out of range"),
])
def test_encoding_out_of_range_fields_raises_bad_field_value(fields, needle):
    with pytest.raises(BadFieldValue, match=needle):
        encode_frame([PoolSync(**fields)], source=4)


def test_text_longer_than_its_field_is_refused():
    with pytest.raises(BadFieldValue, match="does not fit"):
        Heartbeat(node="n" * 33).encode_value()


def test_vectors_that_share_a_count_must_agree():
    from mesh.protocol import ArbitrageOpportunity
    bad = ArbitrageOpportunity(pools=(bytes(20),), tokens=(bytes(20),), pool_kinds=(1,),
                               hop_fee_ppm=(3000,))
    with pytest.raises(BadFieldValue, match="disagree"):
        bad.encode_value()


def test_count_beyond_capacity_is_rejected_on_decode():
    from mesh.protocol import PoolLiquidity
    value = bytearray(PoolLiquidity(reserves=(1, 2)).encode_value())
    value[16] = 9  # reserve_count 9 > 8 slots
    with pytest.raises(BadFieldValue, match="capacity") as info:
        decode_frame(_with_payload(tlv_bytes(10, bytes(value))))
    assert info.value.offset == 32 + 2


def test_restamp_renumbers_a_frame_and_keeps_it_valid():
    from mesh.protocol import restamp
    frame = _frame()
    again = restamp(frame, sequence=99, timestamp_ns=123)
    decoded = decode_frame(again)
    assert (decoded.header.sequence, decoded.header.timestamp_ns) == (99, 123)
    assert decoded.tlvs == decode_frame(frame).tlvs
    assert again[28:32] != frame[28:32]


def test_restamp_keeps_a_zero_checksum_zero():
    from mesh.protocol import restamp
    again = restamp(_frame(with_checksum=False), sequence=5, timestamp_ns=1)
    assert again[28:32] == b"\0\0\0\0"
    assert decode_frame(again, allow_zero_checksum=True).header.sequence == 5
