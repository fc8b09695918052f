"""Protocol encode/decode speed: Python API and numba kernels beside bare ``struct``.

Rows per type (PoolSync, PoolSwap, Trade, ArbitrageOpportunity):

* ``py encode``: ``encode_frame([msg])`` (header, TLV, CRC32) per frame;
* ``py decode``: ``decode_frame(frame)`` to a message object, checksum verified;
* ``struct baseline``: bare ``struct.unpack_from`` of the header and the value (no checks, no
  object), the floor a Python decoder cannot beat;
* ``numba scan``: a kernel walking a buffer of back-to-back frames and extracting the type's
  hot fields (not for ArbitrageOpportunity, which no hot loop reads).

Latency columns are per-frame times of batches (median, p99, max over batches), the Python
cases timed in round-robin batches so that machine noise falls on all of them; ``per_s`` is
frames over total time. Targets on this machine: numba PoolSync ≥ 20 M/s, Python PoolSync
decode ≥ 300 k/s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from numba import njit

from bench.report import Row
from mesh.protocol import (
    ArbitrageOpportunity,
    PoolSwap,
    PoolSync,
    Trade,
    decode_frame,
    encode_frame,
)
from mesh.protocol import kernels as k
from mesh.protocol.header import HEADER

BENCH = "protocol"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--frames`` per numba buffer, ``--batches`` of ``--batch`` Python calls."""
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch", type=int, default=200)


def _samples() -> dict[str, object]:
    a, b, c = b"\x11" * 20, b"\x22" * 20, b"\x33" * 20
    return {
        "PoolSync": PoolSync(reserve0=12_345 * 10**18, reserve1=31_000 * 10**6, block_number=19_000_000,
                             timestamp_ns=time.time_ns(), venue=300, token0_decimals=18,
                             token1_decimals=6, pool_address=a, token0_addr=b, token1_addr=c),
        "PoolSwap": PoolSwap(amount_in=10**18, amount_out=2_500_000, liquidity_after=10**22,
                             block_number=19_000_000, tick_after=-201_234, venue=301,
                             pool_address=a, token_in_addr=b, token_out_addr=c,
                             sqrt_price_x96_after=2**96),
        "Trade": Trade(asset_id=0x4254432F55534400, price=6_500_012_345_678, volume=12_500_000,
                       execution_timestamp_ns=time.time_ns(), venue=102, asset_type=51, side=1),
        "ArbitrageOpportunity": ArbitrageOpportunity(
            amount_in=10**18, expected_out=10**18 + 10**15, flash_fee=5 * 10**14,
            expected_profit=4 * 10**14, opportunity_id=1, chain_id=1, gas_estimate=140_000,
            pools=(a, b), tokens=(c, a, c), pool_kinds=(1, 2), hop_fee_ppm=(3000, 500)),
    }


def _interleaved(cases: list[tuple[str, Callable[[], object]]], batches: int, batch: int
                 ) -> list[Row]:
    """Time every case in round-robin batches, so machine noise spreads over all of them."""
    for _, fn in cases:  # warm up
        for _ in range(batch):
            fn()
    per_op = np.empty((len(cases), batches))
    totals = np.zeros(len(cases))
    for i in range(batches):
        for c, (_, fn) in enumerate(cases):
            t0 = time.perf_counter_ns()
            for _ in range(batch):
                fn()
            dt = time.perf_counter_ns() - t0
            totals[c] += dt
            per_op[c, i] = dt / batch
    rows = []
    for c, (case, _) in enumerate(cases):
        us = per_op[c] / 1000.0
        rows.append(Row(BENCH, case, p50_us=float(np.median(us)),
                        p99_us=float(np.percentile(us, 99)),
                        p999_us=float(np.percentile(us, 99.9)), max_us=float(us.max()),
                        per_s=batches * batch / (totals[c] / 1e9)))
    return rows


@njit(cache=True)
def _swap_fields(buf, v, row):
    ilo, _ihi, olo, _ohi, _l0, _l1, block, tick, _s0, _s1 = k.read_pool_swap(buf, v)
    row[0], row[1], row[2], row[3] = ilo, olo, block, tick


@njit(cache=True)
def _trade_fields(buf, v, row):
    asset, price, volume, _ts, _venue, side = k.read_trade(buf, v)
    row[0], row[1], row[2], row[3] = asset, price, volume, side


@njit
def _scan(buf, end, out, tlv_type, extract):
    """Walk back-to-back frames; ``extract`` the first TLV of ``tlv_type`` of each into ``out``."""
    pos = 0
    n = 0
    while pos < end:
        size = k.frame_length(buf, pos, end)
        if size < 0:
            break
        v, _ = k.find_tlv(buf, pos, size, tlv_type)
        if v >= 0:
            extract(buf, v, out[n])
            n += 1
        pos += size
    return n


def _numba_row(name: str, frame: bytes, frames: int) -> Row:
    buf = np.frombuffer(frame * frames, np.uint8)
    if name == "PoolSync":
        res, blocks, pools = np.zeros((frames, 4), np.uint64), np.zeros(frames, np.uint64), np.zeros((frames, 3), np.uint64)

        def scan() -> int:
            return k.scan_pool_syncs(buf, buf.size, res, blocks, pools)[0]
    else:
        out = np.zeros((frames, 4), np.int64)
        tlv_type, extract = ((k.TYPE_POOL_SWAP, _swap_fields) if name == "PoolSwap"
                             else (k.TYPE_TRADE, _trade_fields))

        def scan() -> int:
            return _scan(buf, buf.size, out, tlv_type, extract)
    assert scan() == frames
    times = []
    for _ in range(7):
        t0 = time.perf_counter_ns()
        scan()
        times.append((time.perf_counter_ns() - t0) / frames)
    per = np.array(times) / 1000.0
    return Row(BENCH, f"{name} numba scan", p50_us=float(np.median(per)),
               max_us=float(per.max()), per_s=1e6 / float(np.median(per)),
               extra={"frame_bytes": len(frame)})


def run(args: argparse.Namespace) -> list[Row]:
    """Measure every row; baselines in the same run, Python cases interleaved."""
    python_cases: list[tuple[str, Callable[[], object]]] = []
    frames: dict[str, bytes] = {}
    for name, msg in _samples().items():
        frame = frames[name] = encode_frame([msg], source=4, sequence=1)
        value_struct = type(msg).LAYOUT.struct
        voff = 32 + (2 if len(frame) - 32 <= 257 else 5)
        items = value_struct.unpack_from(frame, voff)
        python_cases += [
            (f"{name} struct pack baseline", lambda s=value_struct, i=items: s.pack(*i)),
            (f"{name} py encode", lambda m=msg: encode_frame([m], source=4)),
            (f"{name} struct unpack baseline",
             lambda f=frame, s=value_struct, o=voff: (HEADER.unpack_from(f, 0), s.unpack_from(f, o))),
            (f"{name} py decode", lambda f=frame: decode_frame(f)),
        ]
    rows = _interleaved(python_cases, args.batches, args.batch)
    for name in ("PoolSync", "PoolSwap", "Trade"):
        rows.append(_numba_row(name, frames[name], args.frames))
    return rows
