"""Frames as JSON objects: what ``alphapulse decode`` prints and ``alphapulse encode`` reads.

::

    {"header": {"domain": 1, "version": 1, "source": 3, "flags": 0, "sequence": 42,
                "timestamp_ns": 1700000000200000000, "payload_size": 42, "checksum": 3935928183},
     "tlvs": [{"type": 1, "name": "Trade", "fields": {"asset_id": 4779518975120983040, ...}},
              {"type": 202, "name": null, "raw": "abab..."}]}

Integers up to 64 bits are JSON numbers; u128, i128 and u256 values are decimal strings
(JSON numbers lose precision past 2^53 in most readers); bytes are ``0x`` hex. On the way back,
``payload_size`` is recomputed and ignored, and the checksum is recomputed unless it is 0,
which is kept as 0 (a hot-path frame), so ``decode | encode`` returns the original bytes.
"""

from __future__ import annotations

from typing import Any

from mesh.protocol.errors import BadFieldValue
from mesh.protocol.frame import Frame, UnknownTLV, encode_frame
from mesh.protocol.registry import BY_NAME, REGISTRY, Message

_HEADER_KEYS = ("domain", "version", "source", "flags", "sequence", "timestamp_ns",
                "payload_size", "checksum")


def frame_to_json(frame: Frame) -> dict[str, Any]:
    """The JSON-ready form of a decoded frame."""
    h = frame.header
    return {
        "header": {"domain": h.domain, "version": h.version, "source": h.source,
                   "flags": h.flags, "sequence": h.sequence, "timestamp_ns": h.timestamp_ns,
                   "payload_size": h.payload_size, "checksum": h.checksum},
        "tlvs": [tlv_to_json(t) for t in frame.tlvs],
    }


def tlv_to_json(tlv: Message | UnknownTLV) -> dict[str, Any]:
    """One TLV as ``{"type", "name", "fields"}`` (known) or ``{"type", "name": null, "raw"}``."""
    if isinstance(tlv, UnknownTLV):
        return {"type": tlv.tlv_type, "name": None, "raw": tlv.value.hex()}
    return {"type": tlv.TLV_TYPE, "name": type(tlv).__name__, "fields": tlv.to_json()}


def tlv_from_json(obj: Any, index: int) -> Message | UnknownTLV:
    """Inverse of :func:`tlv_to_json`; the type is taken from ``name`` or else ``type``."""
    if not isinstance(obj, dict):
        raise BadFieldValue(f"tlvs[{index}] must be an object")
    name, number = obj.get("name"), obj.get("type")
    if "raw" in obj:
        if not isinstance(number, int) or not 1 <= number <= 254:
            raise BadFieldValue(f"tlvs[{index}]: a raw TLV needs a type in 1..254")
        try:
            return UnknownTLV(number, bytes.fromhex(str(obj["raw"])))
        except ValueError as exc:
            raise BadFieldValue(f"tlvs[{index}]: raw is not hex") from exc
    cls = BY_NAME.get(name) if name is not None else REGISTRY.get(number)  # type: ignore[arg-type]
    if cls is None:
        raise BadFieldValue(f"tlvs[{index}]: unknown type {name or number!r}")
    if number is not None and number != cls.TLV_TYPE:
        raise BadFieldValue(f"tlvs[{index}]: {cls.__name__} is type {cls.TLV_TYPE}, not {number}")
    return cls.from_json(obj.get("fields", {}))


def frame_from_json(obj: Any) -> bytes:
    """Encode a frame from its JSON form (see the module docstring for the checksum rule)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("header"), dict):
        raise BadFieldValue('expected {"header": {...}, "tlvs": [...]}')
    header = obj["header"]
    unknown = set(header) - set(_HEADER_KEYS)
    if unknown:
        raise BadFieldValue(f"unknown header fields {sorted(unknown)}")
    for key, value in header.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadFieldValue(f"header.{key} must be an integer")
    for key in ("domain", "source"):
        if key not in header:
            raise BadFieldValue(f"header.{key} is required")
    tlvs = obj.get("tlvs")
    if not isinstance(tlvs, list) or not tlvs:
        raise BadFieldValue("tlvs must be a non-empty list")
    return encode_frame(
        [tlv_from_json(t, i) for i, t in enumerate(tlvs)],
        source=header["source"], domain=header["domain"], sequence=header.get("sequence", 0),
        timestamp_ns=header.get("timestamp_ns", 0), flags=header.get("flags", 0),
        version=header.get("version", 1), with_checksum=header.get("checksum", 1) != 0)
