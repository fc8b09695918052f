"""Every upstream type's offsets and sizes agree with the hand-typed upstream tables.

Three independent views must agree for each type: the upstream table (``upstream_tables.py``,
typed from docs/wire-format.md §4-§6), what the project's layout reports
(``Type.LAYOUT.offsets`` and field sizes), and the bytes the encoder actually writes (a distinct
marker per field, looked for at the table's offset; padding must be zero).
"""

from __future__ import annotations

import struct
import zlib

import pytest

from mesh.protocol import BY_NAME, REGISTRY, decode_frame, encode_frame
from mesh.protocol import header as header_module
from mesh.protocol.layout import Record, Vec

from .upstream_tables import ELEMENTS, HEADER, UPSTREAM, VECTORS

NAMES = sorted(UPSTREAM)
INT_KINDS = {"u8", "u16", "u32", "u64", "u128", "u256", "i32", "i64"}


def _marker(index: int, size: int) -> bytes:
    """Nonzero bytes that differ from field to field, so a shifted field cannot match."""
    return bytes(((17 * index + j) % 251) + 1 for j in range(size))


def _value(kind: str, marker: bytes):
    """The Python value whose encoding is ``marker`` (for ``paddr``: its first 20 bytes)."""
    if kind in INT_KINDS:
        return int.from_bytes(marker, "little", signed=kind.startswith("i"))
    if kind == "paddr":
        return marker[:20]
    assert kind in ("addr", "raw"), kind
    return marker


def _wire(kind: str, marker: bytes) -> bytes:
    """The bytes upstream expects for the field holding ``_value(kind, marker)``."""
    return marker[:20] + bytes(12) if kind == "paddr" else marker


def _tiles(rows, size: int) -> None:
    offset = 0
    for off, n, _kind, name in rows:
        assert off == offset, f"{name} at {off}, previous row ends at {offset}"
        offset += n
    assert offset == size


def _named(rows):
    return {name: (off, n, kind) for off, n, kind, name in rows if name}


def _fill(name: str, rows, size: int):
    """Field values with markers, and the value bytes upstream expects for them."""
    expected = bytearray(size)
    values = {}
    index = 0
    for off, n, kind, field in rows:
        if kind in ("pad", "count"):
            continue
        if kind == "vec":
            elem_name, elem_size, capacity, count_field = VECTORS[(name, field)]
            used = capacity - 1  # the last slot stays empty: the encoder must zero it
            elems = []
            for k in range(used):
                base = off + k * elem_size
                if elem_name in ELEMENTS:
                    parts = {}
                    for sub_off, sub_n, sub_kind, sub in ELEMENTS[elem_name]:
                        if sub_kind == "pad":
                            continue
                        index += 1
                        mark = _marker(index, sub_n)
                        parts[sub] = _value(sub_kind, mark)
                        expected[base + sub_off:base + sub_off + sub_n] = _wire(sub_kind, mark)
                    elems.append(parts)
                else:
                    index += 1
                    mark = _marker(index, elem_size)
                    elems.append(_value(elem_name, mark))
                    expected[base:base + elem_size] = mark
            values[field] = elems
            count_off = _named(rows)[count_field][0]
            expected[count_off:count_off + 2] = struct.pack("<H", used)
            continue
        index += 1
        mark = _marker(index, n)
        values[field] = _value(kind, mark)
        expected[off:off + n] = _wire(kind, mark)
    return values, bytes(expected)


def _instance(cls, values):
    fields = {f.name: f for f in cls.LAYOUT.fields if f.name}
    built = {}
    for name, value in values.items():
        kind = fields[name].kind
        if isinstance(kind, Vec) and isinstance(kind.elem, Record):
            value = tuple(kind.elem.cls(**v) for v in value)
        elif isinstance(kind, Vec):
            value = tuple(value)
        built[name] = value
    return cls(**built)


def test_hand_tables_cover_every_upstream_type_in_the_registry():
    assert {c.__name__ for c in REGISTRY.values() if c.ORIGIN == "upstream"} == set(UPSTREAM)


@pytest.mark.parametrize("name", NAMES)
def test_hand_table_rows_tile_the_value_without_gaps_or_overlaps(name):
    _number, _domain, size, rows = UPSTREAM[name]
    _tiles(rows, size)
    for _off, n, kind, field in rows:
        if kind == "vec":
            elem_name, elem_size, capacity, _count = VECTORS[(name, field)]
            assert n == elem_size * capacity
            if elem_name in ELEMENTS:
                _tiles(ELEMENTS[elem_name], elem_size)


@pytest.mark.parametrize("name", NAMES)
def test_registry_number_domain_and_size_match_upstream(name):
    number, domain, size, _rows = UPSTREAM[name]
    cls = BY_NAME[name]
    assert (cls.TLV_TYPE, int(cls.DOMAIN), cls.LAYOUT.size) == (number, domain, size)
    assert REGISTRY[number] is cls


@pytest.mark.parametrize("name", NAMES)
def test_layout_reports_the_upstream_offset_and_size_of_every_field(name):
    _number, _domain, _size, rows = UPSTREAM[name]
    layout = BY_NAME[name].LAYOUT
    fields = {f.name: f for f in layout.fields if f.name}
    tail = {layout.tail} if layout.tail else set()
    assert set(fields) - tail == set(_named(rows)), "fields differ from the upstream table"
    for field, (off, n, kind) in _named(rows).items():
        assert (layout.offsets[field], fields[field].kind.size) == (off, n), field
        if kind == "vec":
            elem_name, elem_size, capacity, count_field = VECTORS[(name, field)]
            vec = fields[field].kind
            assert isinstance(vec, Vec)
            assert (vec.elem.size, vec.n, vec.count) == (elem_size, capacity, count_field)
            if elem_name in ELEMENTS:
                assert isinstance(vec.elem, Record)
                elem = vec.elem.layout
                want = _named(ELEMENTS[elem_name])
                assert {f: elem.offsets[f] for f in want} == {f: o for f, (o, _, _) in want.items()}


@pytest.mark.parametrize("name", NAMES)
def test_encoder_writes_each_field_marker_at_its_upstream_offset(name):
    _number, _domain, size, rows = UPSTREAM[name]
    cls = BY_NAME[name]
    values, expected = _fill(name, rows, size)
    msg = _instance(cls, values)
    value = msg.encode_value()
    for off, n, kind, field in rows:
        assert value[off:off + n] == expected[off:off + n], f"{field or kind} at {off}"
    assert value[:size] == expected


@pytest.mark.parametrize("name", NAMES)
def test_hand_built_value_decodes_to_the_marker_fields(name):
    number, domain, size, rows = UPSTREAM[name]
    values, value = _fill(name, rows, size)
    tlv = bytes([number, size]) if size <= 255 else bytes([255, 0, number]) + struct.pack("<H", size)
    head = struct.pack("<IBBBBQQI", 0xDEADBEEF, domain, 1, 20, 0, 5, 6, len(tlv) + len(value))
    frame = head + struct.pack("<I", zlib.crc32(head + tlv + value)) + tlv + value
    assert decode_frame(frame).tlvs == (_instance(BY_NAME[name], values),)


@pytest.mark.parametrize("name", NAMES)
def test_tlv_header_is_standard_up_to_255_value_bytes_and_extended_above(name):
    number, _domain, size, rows = UPSTREAM[name]
    cls = BY_NAME[name]
    extra = {"data": bytes(range(256)) + bytes(44)} if name == "Snapshot" else {}
    msg = _instance(cls, {**_fill(name, rows, size)[0], **extra})
    length = size + len(extra.get("data", b""))
    want = (bytes([number, length]) if length <= 255
            else bytes([255, 0, number]) + struct.pack("<H", length))
    assert msg.encode_tlv()[:len(want)] == want
    assert len(msg.encode_tlv()) == len(want) + length


def test_snapshot_data_follows_its_32_byte_header():
    _number, _domain, size, rows = UPSTREAM["Snapshot"]
    values, expected = _fill("Snapshot", rows, size)
    data = b"{\"version\":1}"
    msg = BY_NAME["Snapshot"](**values, data=data)
    assert msg.encode_value() == expected + data


def test_header_module_offsets_match_the_upstream_header_table():
    named = _named(HEADER)
    _tiles(HEADER, 32)
    reported = {
        "magic": header_module.MAGIC_OFFSET, "relay_domain": header_module.DOMAIN_OFFSET,
        "version": header_module.VERSION_OFFSET, "source": header_module.SOURCE_OFFSET,
        "flags": header_module.FLAGS_OFFSET, "sequence": header_module.SEQUENCE_OFFSET,
        "timestamp": header_module.TIMESTAMP_OFFSET,
        "payload_size": header_module.PAYLOAD_SIZE_OFFSET,
        "checksum": header_module.CHECKSUM_OFFSET,
    }
    assert reported == {f: off for f, (off, _, _) in named.items()}
    assert header_module.HEADER.size == 32


def test_encoder_writes_header_fields_at_upstream_offsets_with_crc_skipping_bytes_28_to_32():
    msg = BY_NAME["RecoveryRequest"](last_sequence=1, current_sequence=2, consumer_id=3,
                                     request_type=1)
    frame = encode_frame([msg], source=0x3C, sequence=0x1122334455667788,
                         timestamp_ns=0x0102030405060708, domain=4, flags=0x80)
    fields = {name: int.from_bytes(frame[off:off + n], "little")
              for name, (off, n, _kind) in _named(HEADER).items()}
    assert frame[:4] == bytes.fromhex("efbeadde")
    assert fields == {
        "magic": 0xDEADBEEF, "relay_domain": 4, "version": 1, "source": 0x3C, "flags": 0x80,
        "sequence": 0x1122334455667788, "timestamp": 0x0102030405060708,
        "payload_size": 2 + 24, "checksum": zlib.crc32(frame[:28] + frame[32:]),
    }
    assert len(frame) == 32 + fields["payload_size"]
