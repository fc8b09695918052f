"""Frames: a header plus TLV records, encoded and decoded strictly.

TLV framing (docs/wire-format.md §3): a value of at most 255 bytes takes the standard form
``[type u8][len u8][value]``; a longer one the extended form
``[255][0][type u8][len u16 LE][value]``. TLVs are packed back to back with no alignment.
Decoding accepts both forms for any type, skips and counts types it does not know, and raises
a typed :class:`~mesh.protocol.errors.FrameError` naming the offset for anything malformed.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from mesh.protocol import messages as _messages  # noqa: F401  (fills the registry)
from mesh.protocol.constants import (
    EXTENDED_TLV_MARKER,
    HEADER_SIZE,
    MAGIC,
    MAGIC_BYTES,
    MAX_MESSAGE_SIZE,
    PROTOCOL_VERSION,
    RelayDomain,
)
from mesh.protocol.errors import (
    BadChecksum,
    BadExtendedTLV,
    BadFieldValue,
    BadMagic,
    BadTLVSize,
    Oversize,
    TLVOverrun,
    TrailingBytes,
    TruncatedFrame,
    TruncatedHeader,
    TruncatedTLV,
    UnknownDomain,
)
from mesh.protocol.header import CHECKSUM_OFFSET, HEADER, SEQUENCE_OFFSET, Header, frame_checksum
from mesh.protocol.registry import REGISTRY, Message
from mesh.protocol.tlv import tlv_bytes

_U32 = struct.Struct("<I")
_HEAD28 = struct.Struct("<IBBBBQQI")  # the header up to, not including, the checksum
_SEQ_TS = struct.Struct("<QQ")
_DOMAINS = frozenset(int(d) for d in RelayDomain)
_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__


@dataclass(slots=True, frozen=True)
class UnknownTLV:
    """A TLV of a type this build has no layout for, kept as raw bytes (forward compatible)."""

    tlv_type: int
    value: bytes

    def encode_value(self) -> bytes:
        """The raw value bytes."""
        return self.value

    def encode_tlv(self) -> bytes:
        """The whole TLV: header and raw value."""
        return tlv_bytes(self.tlv_type, self.value)


class Frame(NamedTuple):
    """A decoded frame: its header and its TLVs in wire order (immutable)."""

    header: Header
    tlvs: tuple[Message | UnknownTLV, ...]

    @property
    def messages(self) -> tuple[Message, ...]:
        """The TLVs of known types."""
        return tuple(t for t in self.tlvs if not isinstance(t, UnknownTLV))

    @property
    def unknown_count(self) -> int:
        """How many TLVs were of unknown types (skipped by typed readers)."""
        return sum(isinstance(t, UnknownTLV) for t in self.tlvs)

    def first(self, cls: type[Message]) -> Message | None:
        """The first TLV of type ``cls`` (upstream ``find_tlv_by_type``), or None."""
        for t in self.tlvs:
            if type(t) is cls:
                return t
        return None


# ---------------------------------------------------------------------------------------------
# Encoding


def encode_payload(tlvs: Iterable[Message | UnknownTLV]) -> bytes:
    """The TLV payload for ``tlvs``, in order."""
    return b"".join([t.encode_tlv() for t in tlvs])


def encode_frame(tlvs: Iterable[Message | UnknownTLV], *, source: int, sequence: int = 0,
                 timestamp_ns: int | None = None, domain: int | None = None, flags: int = 0,
                 version: int = PROTOCOL_VERSION, with_checksum: bool = True) -> bytes:
    """Build a complete frame.

    Parameters
    ----------
    tlvs : iterable of Message or UnknownTLV
        The records, in wire order (at least one).
    source : int
        SourceType of the producer.
    sequence, timestamp_ns, flags, version
        Header fields; ``timestamp_ns`` defaults to the wall clock now.
    domain : int, optional
        Relay domain; defaults to the first TLV's domain.
    with_checksum : bool
        Compute the CRC32 (always, unless imitating upstream's hot path, which writes 0).
    """
    if type(tlvs) is not list:
        tlvs = list(tlvs)
    if not tlvs:
        raise BadFieldValue("a frame needs at least one TLV")
    first = tlvs[0]
    if len(tlvs) == 1:  # a message's _tlv directly: one call fewer on the hot path
        payload = first.encode_tlv() if type(first) is UnknownTLV else first._tlv(first)  # type: ignore[union-attr]
    else:
        payload = encode_payload(tlvs)
    if HEADER_SIZE + len(payload) > MAX_MESSAGE_SIZE:
        raise Oversize(f"message of {HEADER_SIZE + len(payload)} bytes exceeds {MAX_MESSAGE_SIZE}")
    if domain is None:
        domain = int(RelayDomain.MARKET_DATA) if isinstance(first, UnknownTLV) else first.DOMAIN
    if timestamp_ns is None:
        timestamp_ns = time.time_ns()
    try:
        head = _HEAD28.pack(MAGIC, domain, version, source, flags, sequence, timestamp_ns,
                            len(payload))
    except struct.error as exc:
        raise BadFieldValue(f"header field out of range: {exc}") from exc
    crc = zlib.crc32(payload, zlib.crc32(head)) if with_checksum else 0
    return b"".join((head, _U32.pack(crc), payload))


def restamp(frame: bytes | bytearray, *, sequence: int, timestamp_ns: int | None = None
            ) -> bytes:
    """A copy of an encoded ``frame`` with a new sequence (and timestamp) and a fresh CRC32.

    For publishers that number frames built elsewhere; a frame whose checksum is 0 (upstream
    hot path) keeps 0. The TLVs are not re-encoded or re-checked.
    """
    out = bytearray(frame)
    _SEQ_TS.pack_into(out, SEQUENCE_OFFSET, sequence,
                      timestamp_ns if timestamp_ns is not None else time.time_ns())
    if frame[CHECKSUM_OFFSET:HEADER_SIZE] != b"\0\0\0\0":
        _U32.pack_into(out, CHECKSUM_OFFSET, frame_checksum(out))
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Decoding


def decode_header(data: bytes | bytearray | memoryview, offset: int = 0) -> Header:
    """Parse and check the 32-byte header at ``offset`` (magic, domain, message size)."""
    if len(data) - offset < HEADER_SIZE:
        raise TruncatedHeader(f"{len(data) - offset} bytes, a header needs {HEADER_SIZE}", offset)
    magic, domain, version, source, flags, seq, ts, size, crc = HEADER.unpack_from(data, offset)
    if magic != MAGIC:
        raise BadMagic(f"magic 0x{magic:08x}, expected 0x{MAGIC:08x}", offset)
    if domain not in _DOMAINS:
        raise UnknownDomain(f"relay domain {domain} is not one of 1..4", offset + 4)
    if HEADER_SIZE + size > MAX_MESSAGE_SIZE:
        raise Oversize(f"payload_size {size} exceeds the {MAX_MESSAGE_SIZE}-byte message limit",
                       offset + 24)
    return _new(Header, (domain, source, seq, ts, size, crc, version, flags))


def tlv_at(data: bytes | bytearray | memoryview, pos: int, end: int) -> tuple[int, int, int]:
    """``(type, value_offset, value_length)`` of the TLV at ``pos``, checked against ``end``."""
    if end - pos < 2:
        raise TruncatedTLV("TLV header cut off", pos)
    tlv_type = data[pos]
    if tlv_type == EXTENDED_TLV_MARKER:
        if end - pos < 5:
            raise TruncatedTLV("extended TLV header cut off", pos)
        if data[pos + 1] != 0:
            raise BadExtendedTLV(f"reserved byte is {data[pos + 1]}, must be 0", pos + 1)
        tlv_type = data[pos + 2]
        length = data[pos + 3] | (data[pos + 4] << 8)
        value = pos + 5
    else:
        length = data[pos + 1]
        value = pos + 2
    if value + length > end:
        raise TLVOverrun(f"TLV type {tlv_type} of {length} bytes runs "
                         f"{value + length - end} bytes past the payload", pos)
    return tlv_type, value, length


def iter_tlvs(data: bytes | bytearray | memoryview, start: int, end: int
              ) -> Iterator[tuple[int, int, int]]:
    """Yield ``(type, value_offset, value_length)`` for each TLV in ``data[start:end]``."""
    pos = start
    while pos < end:
        tlv_type, value, length = tlv_at(data, pos, end)
        yield tlv_type, value, length
        pos = value + length


def check_frame(data: bytes | bytearray | memoryview, *, verify_checksum: bool = True,
                allow_zero_checksum: bool = False) -> Header:
    """Check everything that needs no TLV decoding and return the header.

    Checked: the header (:func:`decode_header`), that ``data`` is exactly ``32 + payload_size``
    bytes, and the CRC32. What :func:`decode_frame` adds is the TLV structure and values, so a
    transport can check on arrival and decode later (:func:`decode_checked`).

    Raises
    ------
    FrameError
        A typed subclass naming what is wrong and the offset.
    """
    header = decode_header(data)
    end = HEADER_SIZE + header.payload_size
    if len(data) != end:
        if len(data) < end:
            raise TruncatedFrame(f"frame has {len(data)} bytes, header says {end}", len(data))
        raise TrailingBytes(f"{len(data) - end} bytes after the {end}-byte frame", end)
    if verify_checksum and not (allow_zero_checksum and header.checksum == 0):
        crc = frame_checksum(data)
        if crc != header.checksum:
            raise BadChecksum(f"checksum 0x{header.checksum:08x}, computed 0x{crc:08x}",
                              CHECKSUM_OFFSET)
    return header


def decode_frame(data: bytes | bytearray | memoryview, *, verify_checksum: bool = True,
                 allow_zero_checksum: bool = False) -> Frame:
    """Decode exactly one frame (``32 + payload_size`` bytes, no more, no less).

    Parameters
    ----------
    verify_checksum : bool
        Check the CRC32 (default). Turn off only for trusted, already-checked input.
    allow_zero_checksum : bool
        Accept a checksum of 0 as "not computed", as upstream's hot-path producers send.

    Raises
    ------
    FrameError
        A typed subclass naming what is wrong and the offset.
    """
    header = check_frame(data, verify_checksum=verify_checksum,
                         allow_zero_checksum=allow_zero_checksum)
    return decode_checked(data, header)


def decode_checked(data: bytes | bytearray | memoryview, header: Header) -> Frame:
    """Decode the TLVs of a frame whose ``header`` :func:`check_frame` already returned.

    For transports that check on arrival and decode later: the header is not parsed again.
    """
    return _new(Frame, (header, _decode_tlvs(data, HEADER_SIZE + header.payload_size)))


def _decode_tlvs(data: bytes | bytearray | memoryview, end: int) -> tuple[Message | UnknownTLV, ...]:
    """Decode the TLVs of ``data[32:end]`` (a loop, not :func:`iter_tlvs`: no generator)."""
    tlvs: list[Message | UnknownTLV] = []
    pos = HEADER_SIZE
    while pos < end:
        tlv_type, value, length = tlv_at(data, pos, end)
        pos = value + length
        cls = REGISTRY.get(tlv_type)
        if cls is None:
            tlvs.append(UnknownTLV(tlv_type, bytes(data[value:pos])))
            continue
        size = cls.LAYOUT.size
        if length != size and not (length > size and cls.LAYOUT.tail):
            raise BadTLVSize(f"{cls.__name__} value is {length} bytes, layout needs {size}", value)
        try:
            tlvs.append(cls._decode(data, value, length))  # type: ignore[attr-defined]
        except BadFieldValue as exc:
            raise BadFieldValue(f"{cls.__name__}: {exc}", value) from exc
    return tuple(tlvs)


def split_frames(data: bytes | bytearray | memoryview) -> tuple[list[tuple[int, int]], int]:
    """Split a stream of back-to-back frames (§1.5) into ``(offset, length)`` spans.

    Returns the spans found and the offset where an incomplete frame begins (``len(data)`` if
    none). Garbage between frames is skipped by scanning for the magic bytes, as upstream's
    dashboard resynchronises; each skipped region is reported as a span of negative length.
    """
    spans: list[tuple[int, int]] = []
    pos, n = 0, len(data)
    raw = bytes(data)
    while pos < n:
        if raw[pos:pos + 4] != MAGIC_BYTES:
            nxt = raw.find(MAGIC_BYTES, pos + 1)
            stop = n if nxt < 0 else nxt
            spans.append((pos, -(stop - pos)))
            pos = stop
            continue
        if n - pos < HEADER_SIZE:
            return spans, pos
        size = HEADER_SIZE + _U32.unpack_from(raw, pos + 24)[0]
        if size > MAX_MESSAGE_SIZE:
            spans.append((pos, -4))
            pos += 4
            continue
        if n - pos < size:
            return spans, pos
        spans.append((pos, size))
        pos += size
    return spans, n
