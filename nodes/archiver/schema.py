"""The archive's one schema: Parquet columns, file layout and the hot types' decoded columns.

The writer (``store.py``) and every reader (``read.py``, ``alphapulse trace``, DuckDB, pandas)
follow this module; docs/archive.md describes it for people.

Layout under the archive root (default ``RUN_DIR/archive``)::

    date=YYYY-MM-DD/domain=<domain>/<first recv_ns, 20 digits>-<pid>-<n>.parquet   closed parts
    date=YYYY-MM-DD/domain=<domain>/<same stem>.journal                            the open part

The date is the UTC day of the part's first ``recv_ns``; ``<domain>`` is a ring domain name
(``market-data``, ``signal``, ``execution``, ``system``). Readers take ``*.parquet`` only; a
``.journal`` is the part being written (or one a crash left, converted on the next start).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from alphapulse.errors import AlphaPulseError
from mesh.protocol.constants import EXTENDED_TLV_MARKER, HEADER_SIZE
from mesh.protocol.messages import defi, market

__all__ = [
    "BASE_FIELDS", "DECODED_FIELDS", "PART_RE", "SCHEMA", "SCHEMA_VERSION", "ArchiveError",
    "decoded_columns", "first_tlv_type", "part_stem",
]

#: Bumped when a column changes meaning; stored in each file's key-value metadata.
SCHEMA_VERSION = 1

_HEAD = struct.Struct("<IBBBBQQII")


class ArchiveError(AlphaPulseError):
    """An archive that cannot be read or written: missing, not Parquet, or the wrong columns."""

    kind = "archive"


#: Columns every row has (the agreed minimum plus two header fields for tracing).
BASE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("recv_ns", pa.int64(), nullable=False),  # CLOCK_REALTIME ns at the archiver
    pa.field("source", pa.string(), nullable=False),  # ring:<segment> or zmq:<topic>
    pa.field("domain", pa.string(), nullable=False),  # ring domain name
    pa.field("msg_type", pa.uint16(), nullable=False),  # first TLV's type, 0 if unreadable
    pa.field("sequence", pa.uint64(), nullable=False),  # header sequence
    pa.field("header_timestamp_ns", pa.uint64(), nullable=False),  # header timestamp
    pa.field("header_source", pa.uint8(), nullable=False),  # header SourceType
    pa.field("frame", pa.binary(), nullable=False),  # the exact frame bytes
)

# Values wider than 64 bits (u128/i128 money) are exact decimal strings: DuckDB reads them
# with CAST(x AS HUGEINT) / UHUGEINT, pandas with int(x). Addresses are 0x-prefixed hex.
_S, _U64, _I64, _U16, _U8 = pa.string(), pa.uint64(), pa.int64(), pa.uint16(), pa.uint8()
DECODED_FIELDS: tuple[pa.Field, ...] = tuple(pa.field(n, t) for n, t in (
    ("pool", _S), ("block_number", _U64), ("venue", _U16), ("asset_id", _U64),
    ("opportunity_id", _U64), ("reserve0", _S), ("reserve1", _S), ("amount_in", _S),
    ("amount_out", _S), ("price", _I64), ("volume", _I64), ("side", _U8), ("bid_price", _I64),
    ("bid_size", _I64), ("ask_price", _I64), ("ask_size", _I64), ("expected_profit", _S),
    ("net_profit_usd_q8", _I64), ("realized_profit", _S), ("status", _U8), ("gas_used", _U64),
))

SCHEMA = pa.schema(BASE_FIELDS + DECODED_FIELDS,
                   metadata={b"alphapulse.archive.schema": str(SCHEMA_VERSION).encode()})

#: A part file's name: first recv_ns, writer pid, part number.
PART_RE = re.compile(r"^(\d{20})-(\d+)-(\d+)\.(parquet|journal)$")


def part_stem(first_recv_ns: int, pid: int, n: int) -> str:
    """The file name of a part without its extension (sorts in time order)."""
    return f"{first_recv_ns:020d}-{pid}-{n}"


def first_tlv_type(frame: bytes) -> tuple[int, int, int]:
    """``(type, value offset, value length)`` of the frame's first TLV, ``(0, 0, 0)`` if none.

    Reads only what is there: a frame too short for its first TLV gives type 0.
    """
    n = len(frame)
    if n < HEADER_SIZE + 2:
        return 0, 0, 0
    t = frame[HEADER_SIZE]
    if t == EXTENDED_TLV_MARKER:
        if n < HEADER_SIZE + 5:
            return 0, 0, 0
        return frame[HEADER_SIZE + 2], HEADER_SIZE + 5, frame[HEADER_SIZE + 3] | (
            frame[HEADER_SIZE + 4] << 8)
    return t, HEADER_SIZE + 2, frame[HEADER_SIZE + 1]


def header_fields(frame: bytes) -> tuple[int, int, int]:
    """``(sequence, timestamp_ns, source)`` of the header, zeros for a frame under 32 bytes."""
    if len(frame) < HEADER_SIZE:
        return 0, 0, 0
    _m, _d, _v, source, _f, seq, ts, _p, _c = _HEAD.unpack_from(frame)
    return seq, ts, source


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _pool_sync(m: Any) -> dict[str, Any]:
    return {"pool": _hex(m.pool_address), "block_number": m.block_number, "venue": m.venue,
            "reserve0": str(m.reserve0), "reserve1": str(m.reserve1)}


def _pool_swap(m: Any) -> dict[str, Any]:
    return {"pool": _hex(m.pool_address), "block_number": m.block_number, "venue": m.venue,
            "amount_in": str(m.amount_in), "amount_out": str(m.amount_out)}


def _trade(m: Any) -> dict[str, Any]:
    return {"asset_id": m.asset_id, "venue": m.venue, "price": m.price, "volume": m.volume,
            "side": m.side}


def _quote(m: Any) -> dict[str, Any]:
    return {"asset_id": m.asset_id, "venue": m.venue, "bid_price": m.bid_price,
            "bid_size": m.bid_size, "ask_price": m.ask_price, "ask_size": m.ask_size}


def _opportunity(m: Any) -> dict[str, Any]:
    return {"opportunity_id": m.opportunity_id, "block_number": m.detected_block,
            "amount_in": str(m.amount_in), "amount_out": str(m.expected_out),
            "expected_profit": str(m.expected_profit),
            "net_profit_usd_q8": m.net_profit_usd_q8}


def _result(m: Any) -> dict[str, Any]:
    return {"opportunity_id": m.opportunity_id, "block_number": m.block_number,
            "amount_in": str(m.amount_in), "realized_profit": str(m.realized_profit),
            "status": m.status, "gas_used": m.gas_used}


def _block_end(m: Any) -> dict[str, Any]:
    return {"block_number": m.block_number}


#: Hot types: TLV type -> (message class, the columns it fills).
HOT: dict[int, tuple[Any, Callable[[Any], dict[str, Any]]]] = {
    market.PoolSync.TLV_TYPE: (market.PoolSync, _pool_sync),
    market.PoolSwap.TLV_TYPE: (market.PoolSwap, _pool_swap),
    market.Trade.TLV_TYPE: (market.Trade, _trade),
    market.Quote.TLV_TYPE: (market.Quote, _quote),
    defi.ArbitrageOpportunity.TLV_TYPE: (defi.ArbitrageOpportunity, _opportunity),
    defi.ExecutionResult.TLV_TYPE: (defi.ExecutionResult, _result),
    defi.BlockEnd.TLV_TYPE: (defi.BlockEnd, _block_end),
}


def decoded_columns(frame: bytes, tlv_type: int, value: int, length: int
                    ) -> dict[str, Any] | None:
    """The decoded columns of a frame whose first TLV is a hot type, else None.

    A hot TLV that does not decode (wrong size, bad field) gives None: the raw frame is kept
    and the row simply has no decoded values.
    """
    hot = HOT.get(tlv_type)
    if hot is None:
        return None
    cls, columns = hot
    if length < cls.LAYOUT.size or value + length > len(frame):
        return None
    try:
        return columns(cls._decode(frame, value, length))
    except (AlphaPulseError, ValueError, struct.error):
        return None


def build_table(records: list[tuple[int, str, str, bytes]]) -> pa.Table:
    """The Parquet table of ``(recv_ns, source, domain, frame)`` records, in recv_ns order.

    The sort is stable, so frames received in the same nanosecond keep their arrival order.
    """
    records = sorted(records, key=lambda r: r[0])
    cols: dict[str, list[Any]] = {f.name: [] for f in SCHEMA}
    decoded = [f.name for f in DECODED_FIELDS]
    for recv_ns, source, domain, frame in records:
        tlv_type, value, length = first_tlv_type(frame)
        seq, ts, src = header_fields(frame)
        cols["recv_ns"].append(recv_ns)
        cols["source"].append(source)
        cols["domain"].append(domain)
        cols["msg_type"].append(tlv_type)
        cols["sequence"].append(seq)
        cols["header_timestamp_ns"].append(ts)
        cols["header_source"].append(src)
        cols["frame"].append(frame)
        values = decoded_columns(frame, tlv_type, value, length) or {}
        for name in decoded:
            cols[name].append(values.get(name))
    return pa.Table.from_pydict(cols, schema=SCHEMA)
