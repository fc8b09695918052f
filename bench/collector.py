"""Chain logs to frames in the ring, beside web3's own event decoding of the same logs.

``python -m bench collector [--json] [--logs N] [--rounds R]``

The first rows of issue 10's collector bench (the collector node itself is still to come):
V2 ``Sync`` and V3 ``Swap`` logs in the form the chain client delivers them (``address``,
``topics``, ``data``, ...) are decoded by :func:`contracts.events.decode_log`, encoded as frames
and written to a shared-memory ring; the baseline is web3's ``ContractEvent.process_log`` of
the same logs (which only decodes, into an ``AttributeDict``), in the same run. Rounds are
interleaved; ``p50_us`` / ``max_us`` are per log over the rounds, ``per_s`` the median rate.
Target (issue 10): at least 100 k V2 Sync logs/s into the ring, and 10x web3's decoding rate.
The V3 Swap logs all sit at one tick, so the decoder's remembered TickMath bounds always hit.

Then, each on an anvil of its own: the bootstrap rows (:mod:`bench.bootstrap`) and the block
latency rows, a block of 200 logs from the websocket to the ring (:mod:`bench.block_latency`).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3

from bench import block_latency, bootstrap
from bench.pinning import cpus, pin, unpin
from bench.report import Row, per_op_row, us_per_op
from contracts.events import PoolInfo, decode_log
from contracts.npm import V2, V3, npm_artifact
from mesh.protocol import encode_frame
from mesh.protocol.constants import PoolKind, SourceType
from shm.segment import list_ring_names, unlink
from shm.writer import RingWriter

BENCH = "collector"
POOL = to_checksum_address("0x" + "ab" * 20)
TOKEN0, TOKEN1 = b"\x11" * 20, b"\x22" * 20
SQRT_PRICE_TICK_0 = 1 << 96  # sqrtPriceX96 at tick 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Benchmark options."""
    parser.add_argument("--logs", type=int, default=20_000, help="logs per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case")
    bootstrap.add_arguments(parser)
    block_latency.add_arguments(parser)


def _word(value: int) -> bytes:
    return (value % (1 << 256)).to_bytes(32, "big")


def _v2_syncs(n: int) -> list[dict[str, Any]]:
    topic = keccak(text="Sync(uint112,uint112)")
    return [{"address": POOL, "topics": [topic],
             "data": _word(10**21 + i) + _word(2 * 10**21 - i), "blockNumber": 100 + i // 50,
             "blockHash": b"\x01" * 32, "transactionHash": b"\x02" * 32, "transactionIndex": 0,
             "logIndex": i % 50, "removed": False} for i in range(n)]


def _v3_swaps(n: int) -> list[dict[str, Any]]:
    topic = keccak(text="Swap(address,address,int256,int256,uint160,uint128,int24)")
    sender = b"\x00" * 12 + b"\x33" * 20
    return [{"address": POOL, "topics": [topic, sender, sender],
             "data": _word(10**18 + i) + _word(-(10**18 - i)) + _word(SQRT_PRICE_TICK_0)
             + _word(10**22) + _word(0),
             "blockNumber": 100 + i // 50, "blockHash": b"\x01" * 32,
             "transactionHash": b"\x02" * 32, "transactionIndex": 0, "logIndex": i % 50,
             "removed": False} for i in range(n)]


def _as_web3(log: dict[str, Any]) -> dict[str, Any]:
    """The same log as web3 hands it to ``process_log`` (HexBytes fields)."""
    return {**log, "topics": [HexBytes(t) for t in log["topics"]], "data": HexBytes(log["data"]),
            "blockHash": HexBytes(log["blockHash"]),
            "transactionHash": HexBytes(log["transactionHash"])}


def run(args: argparse.Namespace) -> list[Row]:
    """Run every case on one pinned CPU; return the rows."""
    namespace = f"bench{os.getpid()}"
    allowed = cpus()
    pin(1)
    w3 = Web3()
    v2_event = w3.eth.contract(abi=npm_artifact(V2, "UniswapV2Pair")["abi"]).events.Sync()
    v3_event = w3.eth.contract(abi=npm_artifact(V3, "UniswapV3Pool")["abi"]).events.Swap()
    registries = {
        "v2": {POOL: PoolInfo(PoolKind.UNISWAP_V2, TOKEN0, TOKEN1, 18, 18, 30)},
        "v3": {POOL: PoolInfo(PoolKind.UNISWAP_V3, TOKEN0, TOKEN1, 18, 18, 3000, 60)},
    }
    logs = {"v2": _v2_syncs(args.logs), "v3": _v3_swaps(args.logs)}
    web3_logs = {k: [_as_web3(x) for x in v] for k, v in logs.items()}
    events = {"v2": v2_event, "v3": v3_event}
    writer = RingWriter.create("market-data", "bench", namespace=namespace, capacity=1 << 24)
    source = int(SourceType.POLYGON_COLLECTOR)
    ts = time.time_ns()

    def to_ring(kind: str) -> int:
        registry, seq = registries[kind], 0
        for log in logs[kind]:
            writer.write(encode_frame([decode_log(log, registry, ts).message], source=source,
                                      sequence=seq))
            seq += 1
        return seq

    def web3_decode(kind: str) -> int:
        event = events[kind]
        return sum(1 for log in web3_logs[kind] if event.process_log(log))

    samples: dict[str, list[float]] = {}
    try:
        for kind in ("v2", "v3"):  # warm-up
            to_ring(kind)
            web3_decode(kind)
        for _ in range(args.rounds):
            for kind in ("v2", "v3"):
                for how, fn in (("web3", web3_decode), ("ring", to_ring)):
                    samples.setdefault(f"{kind} {how}", []).append(
                        us_per_op(lambda fn=fn, kind=kind: fn(kind), args.logs))
    finally:
        writer.close()
        for name in list_ring_names(namespace):
            unlink(name)
        unpin(allowed)
    n = args.logs
    rows = []
    for kind, label in (("v2", "V2 Sync"), ("v3", "V3 Swap")):
        web3_row = per_op_row(BENCH, f"{label}: web3 process_log (baseline)",
                              samples[f"{kind} web3"], logs=n)
        ring_row = per_op_row(BENCH, f"{label}: decode_log -> frame -> ring",
                              samples[f"{kind} ring"], logs=n)
        if web3_row.p50_us and ring_row.p50_us:
            ring_row.extra["x_web3"] = round(web3_row.p50_us / ring_row.p50_us, 1)
        rows += [web3_row, ring_row]
    rows += bootstrap.rows(args)  # its own anvil; nothing with --no-bootstrap
    rows += block_latency.rows(args)  # its own anvil; nothing with --no-blocks
    return rows
