"""The 32-byte message header (upstream v2 field order, docs/wire-format.md §1.1) and its CRC32.

::

     0      4    5    6    7    8              16             24        28        32
     +------+----+----+----+----+--------------+--------------+---------+---------+
     |magic |dom |ver |src |flg | sequence u64 | timestamp u64| payload | crc32   |
     | u32  | u8 | u8 | u8 | u8 |              |  ns, epoch   | size u32| u32     |
     +------+----+----+----+----+--------------+--------------+---------+---------+

All little-endian. The CRC32 (zlib/IEEE) covers ``frame[0:28] + frame[32:]`` (§1.2).
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

from mesh.protocol.constants import HEADER_SIZE, MAGIC

MAGIC_OFFSET = 0
DOMAIN_OFFSET = MAGIC_OFFSET + 4
VERSION_OFFSET = DOMAIN_OFFSET + 1
SOURCE_OFFSET = VERSION_OFFSET + 1
FLAGS_OFFSET = SOURCE_OFFSET + 1
SEQUENCE_OFFSET = FLAGS_OFFSET + 1
TIMESTAMP_OFFSET = SEQUENCE_OFFSET + 8
PAYLOAD_SIZE_OFFSET = TIMESTAMP_OFFSET + 8
CHECKSUM_OFFSET = PAYLOAD_SIZE_OFFSET + 4
assert CHECKSUM_OFFSET + 4 == HEADER_SIZE

HEADER = struct.Struct("<IBBBBQQII")
assert HEADER.size == HEADER_SIZE


class Header(NamedTuple):
    """A decoded message header. ``checksum`` is the value found in (or written to) the frame.

    Immutable (a NamedTuple: a frozen dataclass costs five times as much to build, and every
    decoded frame builds one).
    """

    domain: int
    source: int
    sequence: int = 0
    timestamp_ns: int = 0
    payload_size: int = 0
    checksum: int = 0
    version: int = 1
    flags: int = 0

    def pack(self) -> bytes:
        """The 32 header bytes exactly as held (no checksum computed)."""
        return HEADER.pack(MAGIC, self.domain, self.version, self.source, self.flags,
                           self.sequence, self.timestamp_ns, self.payload_size, self.checksum)


def frame_checksum(frame: bytes | bytearray | memoryview) -> int:
    """CRC32 over ``frame[0:28]`` then ``frame[32:]`` (upstream ``crc32fast``, §1.2)."""
    if type(frame) is bytes:  # slicing bytes is cheaper than two memoryview slices
        return zlib.crc32(frame[HEADER_SIZE:], zlib.crc32(frame[:CHECKSUM_OFFSET]))
    view = memoryview(frame)
    return zlib.crc32(view[HEADER_SIZE:], zlib.crc32(view[:CHECKSUM_OFFSET]))
