"""TLV headers (docs/wire-format.md §3): standard ``[type][len u8]`` or extended
``[255][0][type][len u16 LE]``, chosen by the value's length."""

from __future__ import annotations

import struct

from mesh.protocol.constants import EXTENDED_TLV_MARKER, MAX_STANDARD_TLV_VALUE, MAX_TLV_VALUE
from mesh.protocol.errors import Oversize

_U16 = struct.Struct("<H")


def tlv_header(tlv_type: int, length: int) -> bytes:
    """The 2- or 5-byte header of a TLV whose value is ``length`` bytes."""
    if length <= MAX_STANDARD_TLV_VALUE:
        return bytes((tlv_type, length))
    if length > MAX_TLV_VALUE:
        raise Oversize(f"TLV type {tlv_type} value of {length} bytes exceeds {MAX_TLV_VALUE}")
    return bytes((EXTENDED_TLV_MARKER, 0, tlv_type)) + _U16.pack(length)


def tlv_bytes(tlv_type: int, value: bytes) -> bytes:
    """One whole TLV: header and value."""
    return tlv_header(tlv_type, len(value)) + value
