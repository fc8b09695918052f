"""The AlphaPulse binary protocol: a 32-byte header plus TLV records.

Byte-compatible with upstream AlphaPulse v2 (``docs/wire-format.md``) for the upstream types,
extended with this project's DeFi types (``docs/protocol-types.md``). Knows nothing of
transports. The public API::

    frame = encode_frame([PoolSync(...)], source=SourceType.POLYGON_COLLECTOR, sequence=1)
    decoded = decode_frame(frame)            # typed FrameError on anything malformed
    decoded.header.sequence, decoded.tlvs[0].reserve0
"""

from mesh.protocol.constants import (
    HEADER_SIZE,
    MAGIC,
    MAX_MESSAGE_SIZE,
    MAX_TLV_VALUE,
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    AssetType,
    FlashSource,
    PoolKind,
    RelayDomain,
    SourceType,
    VenueId,
    domain_of_type,
)
from mesh.protocol.errors import (
    BadChecksum,
    BadExtendedTLV,
    BadFieldValue,
    BadMagic,
    BadTLVSize,
    FrameError,
    Oversize,
    TLVOverrun,
    TrailingBytes,
    TruncatedFrame,
    TruncatedHeader,
    TruncatedTLV,
    UnknownDomain,
)
from mesh.protocol.frame import (
    Frame,
    UnknownTLV,
    check_frame,
    decode_checked,
    decode_frame,
    decode_header,
    encode_frame,
    encode_payload,
    iter_tlvs,
    restamp,
    split_frames,
)
from mesh.protocol.header import Header, frame_checksum
from mesh.protocol.instrument import InstrumentId
from mesh.protocol.messages import *  # noqa: F403
from mesh.protocol.messages import __all__ as _message_names
from mesh.protocol.registry import BY_NAME, REGISTRY, Message
from mesh.protocol.tlv import tlv_bytes, tlv_header

__all__ = [
    "BY_NAME", "HEADER_SIZE", "MAGIC", "MAX_MESSAGE_SIZE", "MAX_TLV_VALUE", "PROTOCOL_VERSION",
    "REGISTRY", "SUPPORTED_VERSIONS", "AssetType", "BadChecksum", "BadExtendedTLV",
    "BadFieldValue", "BadMagic", "BadTLVSize", "check_frame", "decode_checked", "FlashSource", "Frame", "FrameError", "Header",
    "InstrumentId", "Message", "Oversize", "PoolKind", "RelayDomain", "SourceType", "TLVOverrun",
    "TrailingBytes", "TruncatedFrame", "TruncatedHeader", "TruncatedTLV", "UnknownDomain",
    "UnknownTLV", "VenueId", "decode_frame", "decode_header", "domain_of_type", "encode_frame",
    "encode_payload", "frame_checksum", "iter_tlvs", "restamp", "split_frames", "tlv_bytes",
    "tlv_header",
    *_message_names,
]
