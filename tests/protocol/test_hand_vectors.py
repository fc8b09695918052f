"""PoolSync and PoolState frames built byte by byte with ``struct.pack``, as upstream lays them out.

These are the types the numba hot path reads. Each frame is assembled here field by field from
docs/wire-format.md (header §1.1, checksum §1.2, TLV header §3.1, PoolSync §4.8, PoolState
§4.9), with no help from ``mesh.protocol``'s layouts. Decoding them with the Python codec and
with the numba kernels gives the values they were built from, and encoding those values gives
exactly these bytes.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from mesh.protocol import PoolState, PoolSync, decode_frame, encode_frame
from mesh.protocol import kernels as k

M64 = (1 << 64) - 1
POOL = bytes.fromhex("6e7a5fafcec6bb1e78bae2a1f0b612012bf14827")
WMATIC = bytes.fromhex("0d500b1d8e8ef31e21c99d1db9a6444d3adf1270")
USDC = bytes.fromhex("2791bca1f2de4661ed88a30dc4175f623ccc1b78")

SYNC = dict(reserve0=(1 << 100) + 0x1234, reserve1=(7 << 64) | 0x8000_0000_0000_0001,
            timestamp_ns=1_700_000_005_000_000_000, block_number=50_000_123, venue=400,
            token0_decimals=18, token1_decimals=6, pool_address=POOL, token0_addr=WMATIC,
            token1_addr=USDC)
STATE = dict(reserve0=5_000_000 * 10**18, reserve1=12_345_678_901_234,
             sqrt_price_x96=3 << 96, liquidity=123_456_789_012_345_678_901,
             block_number=50_000_124, timestamp_ns=1_700_000_006_000_000_000, tick=-201_234,
             fee_rate=30, venue=301, pool_type=1, token0_decimals=18, token1_decimals=6,
             pool_address=POOL, token0_addr=WMATIC, token1_addr=USDC)


def _u128(v: int) -> bytes:
    return struct.pack("<QQ", v & M64, v >> 64)


def _padded(address: bytes) -> bytes:
    return address + bytes(12)


def _sync_value(s: dict) -> bytes:
    return b"".join([
        _u128(s["reserve0"]),                              # 0   reserve0
        _u128(s["reserve1"]),                              # 16  reserve1
        struct.pack("<Q", s["timestamp_ns"]),              # 32  timestamp_ns
        struct.pack("<Q", s["block_number"]),              # 40  block_number
        struct.pack("<H", s["venue"]),                     # 48  venue
        struct.pack("<B", s["token0_decimals"]),           # 50
        struct.pack("<B", s["token1_decimals"]),           # 51
        bytes(12),                                         # 52  padding
        _padded(s["pool_address"]),                        # 64
        _padded(s["token0_addr"]),                         # 96
        _padded(s["token1_addr"]),                         # 128
    ])


def _state_value(s: dict) -> bytes:
    return b"".join([
        _u128(s["reserve0"]),                              # 0
        _u128(s["reserve1"]),                              # 16
        _u128(s["sqrt_price_x96"]),                        # 32
        _u128(s["liquidity"]),                             # 48
        struct.pack("<Q", s["block_number"]),              # 64
        struct.pack("<Q", s["timestamp_ns"]),              # 72
        struct.pack("<i", s["tick"]),                      # 80
        struct.pack("<I", s["fee_rate"]),                  # 84
        struct.pack("<H", s["venue"]),                     # 88
        struct.pack("<B", s["pool_type"]),                 # 90
        struct.pack("<B", s["token0_decimals"]),           # 91
        struct.pack("<B", s["token1_decimals"]),           # 92
        bytes(3),                                          # 93  padding
        _padded(s["pool_address"]),                        # 96
        _padded(s["token0_addr"]),                         # 128
        _padded(s["token1_addr"]),                         # 160
    ])


def _frame(tlv_type: int, value: bytes, *, sequence: int, timestamp_ns: int,
           checksum: bool = True) -> bytes:
    """Header (v2 order, §1.1) + one standard TLV; CRC32 of bytes 0-28 then 32-end (§1.2)."""
    payload = struct.pack("<BB", tlv_type, len(value)) + value
    head28 = struct.pack("<IBBBBQQI", 0xDEADBEEF, 1, 1, 4, 0, sequence, timestamp_ns,
                         len(payload))
    crc = zlib.crc32(head28 + payload) if checksum else 0
    return head28 + struct.pack("<I", crc) + payload


SYNC_VALUE = _sync_value(SYNC)
STATE_VALUE = _state_value(STATE)
SYNC_FRAME = _frame(16, SYNC_VALUE, sequence=77, timestamp_ns=1_700_000_005_000_100_000)
STATE_FRAME = _frame(15, STATE_VALUE, sequence=78, timestamp_ns=1_700_000_006_000_100_000)
SYNC_HOT = _frame(16, SYNC_VALUE, sequence=79, timestamp_ns=1_700_000_007_000_000_000,
                  checksum=False)


def _words(address: bytes) -> tuple[int, int, int]:
    return (int.from_bytes(address[:8], "little"), int.from_bytes(address[8:16], "little"),
            int.from_bytes(address[16:20], "little"))


def _array(data: bytes, lead: int = 0) -> np.ndarray:
    return np.frombuffer(bytes(lead) + data, np.uint8)


def test_hand_vectors_have_the_upstream_sizes():
    assert (len(SYNC_VALUE), len(STATE_VALUE)) == (160, 192)
    assert (len(SYNC_FRAME), len(STATE_FRAME)) == (32 + 2 + 160, 32 + 2 + 192)


def test_python_codec_decodes_the_hand_built_pool_sync():
    frame = decode_frame(SYNC_FRAME)
    assert (frame.header.domain, frame.header.source, frame.header.sequence,
            frame.header.timestamp_ns, frame.header.payload_size) == (
        1, 4, 77, 1_700_000_005_000_100_000, 162)
    assert frame.tlvs == (PoolSync(**SYNC),)
    assert {name: getattr(frame.tlvs[0], name) for name in SYNC} == SYNC


def test_python_codec_decodes_the_hand_built_pool_state():
    frame = decode_frame(STATE_FRAME)
    assert frame.header.sequence == 78
    assert frame.tlvs == (PoolState(**STATE),)
    assert {name: getattr(frame.tlvs[0], name) for name in STATE} == STATE


def test_encoding_the_values_gives_exactly_the_hand_built_bytes():
    assert encode_frame([PoolSync(**SYNC)], source=4, sequence=77,
                        timestamp_ns=1_700_000_005_000_100_000) == SYNC_FRAME
    assert encode_frame([PoolState(**STATE)], source=4, sequence=78,
                        timestamp_ns=1_700_000_006_000_100_000) == STATE_FRAME
    assert PoolSync(**SYNC).encode_value() == SYNC_VALUE
    assert PoolState(**STATE).encode_value() == STATE_VALUE


def test_hot_path_frame_with_zero_checksum_round_trips_when_zero_is_allowed():
    assert encode_frame([PoolSync(**SYNC)], source=4, sequence=79, with_checksum=False,
                        timestamp_ns=1_700_000_007_000_000_000) == SYNC_HOT
    assert decode_frame(SYNC_HOT, allow_zero_checksum=True).tlvs == (PoolSync(**SYNC),)


def test_numba_kernels_read_the_hand_built_pool_sync_at_an_unaligned_offset():
    buf = _array(SYNC_FRAME, lead=3)
    assert k.frame_length(buf, 3, buf.size) == len(SYNC_FRAME)
    v, n = k.find_tlv(buf, 3, len(SYNC_FRAME), 16)
    assert (v, n) == (3 + 32 + 2, 160)
    r0, r1 = SYNC["reserve0"], SYNC["reserve1"]
    assert tuple(k.read_pool_sync(buf, v)) == (
        r0 & M64, r0 >> 64, r1 & M64, r1 >> 64, SYNC["timestamp_ns"], SYNC["block_number"], 400)
    assert tuple(k.read_address(buf, v + 64)) == _words(POOL)
    assert tuple(k.read_address(buf, v + 96)) == _words(WMATIC)


def test_numba_kernels_read_the_hand_built_pool_state_at_an_unaligned_offset():
    buf = _array(STATE_FRAME, lead=5)
    v, n = k.find_tlv(buf, 5, len(STATE_FRAME), 15)
    assert (v, n) == (5 + 32 + 2, 192)
    s = STATE
    assert tuple(k.read_pool_state(buf, v)) == (
        s["reserve0"] & M64, s["reserve0"] >> 64, s["reserve1"] & M64, s["reserve1"] >> 64,
        s["sqrt_price_x96"] & M64, s["sqrt_price_x96"] >> 64,
        s["liquidity"] & M64, s["liquidity"] >> 64,
        s["block_number"], -201_234, 30, 1)
    assert tuple(k.read_address(buf, v + 96)) == _words(POOL)


def test_numba_scan_extracts_pool_syncs_from_a_stream_of_hand_built_frames():
    stream = _array(SYNC_FRAME + STATE_FRAME + SYNC_HOT)
    reserves = np.zeros((4, 4), np.uint64)
    blocks = np.zeros(4, np.uint64)
    pools = np.zeros((4, 3), np.uint64)
    syncs, frames, errors, consumed = k.scan_pool_syncs(stream, stream.size, reserves, blocks,
                                                        pools)
    assert (syncs, frames, errors, consumed) == (2, 3, 0, stream.size)
    r0, r1 = SYNC["reserve0"], SYNC["reserve1"]
    for row in range(2):
        assert reserves[row].tolist() == [r0 & M64, r0 >> 64, r1 & M64, r1 >> 64]
        assert int(blocks[row]) == 50_000_123
        assert tuple(pools[row].tolist()) == _words(POOL)
