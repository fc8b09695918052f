"""Typed protocol errors. Each says what went wrong and at which byte offset of the frame."""

from __future__ import annotations

from alphapulse.errors import ProtocolError

__all__ = [
    "BadChecksum", "BadExtendedTLV", "BadFieldValue", "BadMagic", "BadTLVSize",
    "FrameError", "Oversize", "ProtocolError", "TLVOverrun", "TrailingBytes",
    "TruncatedFrame", "TruncatedHeader", "TruncatedTLV", "UnknownDomain",
]


class FrameError(ProtocolError):
    """A malformed frame; ``offset`` is the byte offset in the frame where the fault lies
    (None for a value that could not be encoded, which has no offset yet)."""

    kind = "frame"

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message if offset is None else f"{message} (at offset {offset})")
        self.offset = offset


class BadMagic(FrameError):
    """The first four bytes are not ``EF BE AD DE``."""

    kind = "bad_magic"


class TruncatedHeader(FrameError):
    """Fewer than 32 bytes where a header should be."""

    kind = "truncated_header"


class TruncatedFrame(FrameError):
    """Fewer bytes than ``32 + payload_size``."""

    kind = "truncated_frame"


class TrailingBytes(FrameError):
    """More bytes than ``32 + payload_size`` passed as one frame."""

    kind = "trailing_bytes"


class TruncatedTLV(FrameError):
    """A TLV header cut off by the end of the payload."""

    kind = "truncated_tlv"


class TLVOverrun(FrameError):
    """A TLV whose value runs past the end of the payload."""

    kind = "tlv_overrun"


class BadExtendedTLV(FrameError):
    """An extended TLV (marker 255) with a non-zero reserved byte."""

    kind = "bad_extended_tlv"


class BadChecksum(FrameError):
    """The CRC32 in the header does not match the frame's bytes."""

    kind = "bad_checksum"


class UnknownDomain(FrameError):
    """A ``relay_domain`` outside 1..4."""

    kind = "unknown_domain"


class Oversize(FrameError):
    """A message over 1 MiB or a TLV value over 65,535 bytes."""

    kind = "oversize"


class BadTLVSize(FrameError):
    """A known TLV type whose value length differs from its layout's size."""

    kind = "bad_tlv_size"


class BadFieldValue(FrameError):
    """A field that cannot be encoded (out of range, wrong length) or decoded (bad count)."""

    kind = "bad_field_value"
