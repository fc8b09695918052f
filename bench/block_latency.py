"""A block of pool logs from the websocket to the ring: the collector's block latency.

Rows of ``python -m bench collector`` (issue 10), after the decode rows; ``--no-blocks`` leaves
them out. The bench starts its own anvil on a free port (automine off), deploys the devnet
market, and runs the collector's own :class:`~nodes.collector_evm.follower.ChainFollower` under a
websocket :class:`~nodes.collector_evm.transport.FollowerThread` whose sink encodes every frame
and writes it to a shared-memory ring (as the node's ``rt.write_ring`` does, without the
node's hand-off thread). Then, ``--blocks`` times, it queues ``--block-swaps`` V2 swaps (a
transfer to the pair and ``swap``: a Sync and a Swap log each, so 200 pool logs for 100 swaps,
spread over every devnet pair) and mines them as one block.

Measured per block:

- **head -> BlockEnd in ring**: from the receive time of the block's head on the websocket (the
  ``received_ns`` the pump stamps when the message has been read, the first message of a block
  from anvil) to the moment the block's ``[BlockEnd, GasPrice]`` frame is committed to the ring.
  It covers the queue to the follower thread, ``eth_getLogs`` by block hash (batched with
  ``eth_maxPriorityFeePerGas``) and the checks of its answer, decoding every log, building the
  frames, encoding them and writing them to the ring. Its parts are the extra columns
  (medians): ``queue_us`` (head received -> follower starts closing), ``rpc_us`` (the batched
  RPC and parsing its logs), ``sink_us`` (encode + ring write of every frame).
- **baseline**: the raw round trip of one ``eth_getLogs`` by the same block hash with the same
  filter, over a persistent bare HTTP connection (no parsing), in the same run after the block
  closed: the floor of what closing a block costs.

Target (issue 10): p50 at most 2 ms for a block of 200 logs.
"""

from __future__ import annotations

import argparse
import http.client
import os
import threading
import time
from typing import Any

import orjson

from bench.report import Row, latency_row
from contracts.answers import Head, Log
from contracts.anvil import port_is_free, set_automine, start_anvil, stop_anvil
from contracts.client import Chain
from contracts.deploy import deploy_market
from contracts.events import TOPICS, registry_from_manifest
from contracts.factories import PAIR_CREATED, POOL_CREATED, factories_from_manifest
from contracts.logs import LogFilter
from contracts.npm import V2, npm_artifact, own_artifact
from contracts.pools import read_v2
from contracts.subscribe import ws_url
from mesh.protocol import Message, encode_frame
from mesh.protocol.constants import SourceType
from mesh.protocol.messages import BlockEnd
from nodes.collector_evm.follower import ChainFollower
from nodes.collector_evm.transport import FollowerThread
from shm.segment import list_ring_names, unlink
from shm.writer import RingWriter

BENCH = "collector"
SOURCE = int(SourceType.POLYGON_COLLECTOR)
WAIT_S = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Block-latency options of the collector bench."""
    parser.add_argument("--no-blocks", action="store_true", help="leave out the block latency rows")
    parser.add_argument("--blocks", type=int, default=100, help="measured blocks")
    parser.add_argument("--block-swaps", type=int, default=100, help="V2 swaps per block (2 logs each)")
    parser.add_argument("--blocks-port", type=int, default=0,
                        help="anvil port (default: the first free one from 28800)")


class _TimedFollower(ChainFollower):
    """The collector's follower, noting when each block's head arrived and how long its RPC took."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heard: dict[int, int] = {}
        self.started: dict[int, int] = {}
        self.first_log: dict[int, int] = {}
        self.rpc_ns: dict[int, int] = {}

    def on_head(self, head: Head, received_ns: int) -> None:
        self.heard.setdefault(head.number, received_ns)
        self.started.setdefault(head.number, time.time_ns())
        super().on_head(head, received_ns)

    def on_log(self, log: Log, received_ns: int) -> None:
        self.first_log.setdefault(log["blockNumber"], received_ns)
        super().on_log(log, received_ns)

    def _block_logs(self, head: Head) -> tuple[list[Log], int]:
        t0 = time.perf_counter_ns()
        try:
            return super()._block_logs(head)
        finally:
            self.rpc_ns[head.number] = time.perf_counter_ns() - t0


class _RingSink:
    """Encodes every frame into a ring; notes when each block's BlockEnd frame is committed."""

    def __init__(self, writer: RingWriter) -> None:
        self.writer = writer
        self.sequence = 0
        self.committed: dict[int, int] = {}
        self.log_counts: dict[int, int] = {}
        self.sink_ns: dict[int, int] = {}
        self.closed = threading.Condition()

    def __call__(self, frames: list[list[Message]]) -> None:
        t0 = time.perf_counter_ns()
        write, seq = self.writer.write, self.sequence
        for tlvs in frames:
            if not write(encode_frame(tlvs, source=SOURCE, sequence=seq)):
                raise RuntimeError("the bench ring is lossless and full")  # never: broadcast ring
            seq += 1
        now = time.time_ns()
        self.sequence = seq
        end = frames[-1][0] if frames else None
        if isinstance(end, BlockEnd):
            with self.closed:
                self.committed[end.block_number] = now
                self.log_counts[end.block_number] = end.log_count
                self.sink_ns[end.block_number] = time.perf_counter_ns() - t0
                self.closed.notify_all()

    def wait(self, block: int, timeout: float = WAIT_S) -> None:
        """Until ``block``'s BlockEnd is in the ring."""
        with self.closed:
            if not self.closed.wait_for(lambda: block in self.committed, timeout):
                raise RuntimeError(f"block {block} was not closed within {timeout:g} s")


class _Swaps:
    """The same tiny V2 swaps every block, spread over every pair, sent by anvil's unlocked account."""

    def __init__(self, chain: Chain, manifest: dict[str, Any], swaps: int) -> None:
        self.chain = chain
        pair_abi, erc_abi = npm_artifact(V2, "UniswapV2Pair")["abi"], own_artifact("TestERC20")["abi"]
        pairs = [p for s in ("uniswap_v2", "uniswap_v2_fork") for p in manifest[s]["pairs"]]
        calls: list[tuple[str, str, str, str]] = []  # token, transfer data, pair, swap data
        for k in range(swaps):
            pair = pairs[k % len(pairs)]
            zero_in = (k // len(pairs)) % 2 == 0
            state = read_v2(chain, pair["address"])
            token = pair["token0"] if zero_in else pair["token1"]
            amount = max(1, (state.reserve0 if zero_in else state.reserve1) // 10**7)
            transfer = chain.contract(token, erc_abi).encode_abi("transfer", args=[pair["address"], amount])
            # Ask for one unit out: the pair keeps the rest of the input, and both logs fire.
            swap = chain.contract(pair["address"], pair_abi).encode_abi(
                "swap", args=[0, 1, chain.address, b""] if zero_in else [1, 0, chain.address, b""])
            calls.append((token, transfer, pair["address"], swap))
        self.calls = calls

    def send(self) -> None:
        """Queue every swap (pending until the next mine)."""
        txs = []
        for token, transfer, pair, swap in self.calls:
            for to, data, gas in ((token, transfer, 100_000), (pair, swap, 200_000)):
                txs.append({"from": self.chain.address, "to": to, "data": data, "gas": hex(gas),
                            "nonce": hex(self.chain.next_nonce())})
        self.chain.rpc_batch([("eth_sendTransaction", [tx]) for tx in txs])


class _BareRpc:
    """One persistent HTTP/1.1 connection posting JSON-RPC bodies: the baseline's bare round trip."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def round_trip_ns(self, method: str, params: list[Any]) -> int:
        body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        t0 = time.perf_counter_ns()
        self.conn.request("POST", "/", body, {"Content-Type": "application/json"})
        answer = self.conn.getresponse().read()
        dt = time.perf_counter_ns() - t0
        if b'"result"' not in answer:
            raise RuntimeError(f"{method}: {answer[:200]!r}")
        return dt

    def close(self) -> None:
        self.conn.close()


def measure(port: int, blocks: int, swaps: int) -> list[Row]:
    """Deploy the market on the anvil at ``port``, follow it into a ring, time ``blocks`` blocks."""
    chain = Chain(f"http://127.0.0.1:{port}", timeout=60)
    manifest = deploy_market(chain)
    registry, factories = registry_from_manifest(manifest), factories_from_manifest(manifest)
    swapper = _Swaps(chain, manifest, swaps)
    set_automine(chain, False)
    namespace = f"benchblk{os.getpid()}"
    writer = RingWriter.create("market-data", "bench-blocks", namespace=namespace, capacity=1 << 24)
    sink = _RingSink(writer)
    errors: list[str] = []
    def count(kind: str, detail: str) -> None:
        errors.append(f"{kind}: {detail}")

    follower = _TimedFollower(Chain(chain.url), registry, factories, sink, count)
    topics = [*sorted(set(TOPICS.values())), PAIR_CREATED, POOL_CREATED]
    thread = FollowerThread(follower, ws_url=ws_url(chain.url), logs=LogFilter.of([*registry, *factories], [topics]),
                            count=count)
    bare = _BareRpc(port)
    params = {"address": sorted({*registry, *factories}),
              "topics": [["0x" + t.hex() for t in (*sorted(set(TOPICS.values())), PAIR_CREATED, POOL_CREATED)]]}
    latency, queue, rpc, sink_time, baseline = [], [], [], [], []
    try:
        thread.start()
        warm_up = 5
        for i in range(warm_up + blocks):
            if i >= warm_up // 2:
                swapper.send()
            chain.rpc("anvil_mine", ["0x1"])
            number = chain.block_number()
            sink.wait(number)
            if i < warm_up:
                continue
            expected = 2 * swaps if i >= warm_up // 2 else 0
            if sink.log_counts[number] != expected:
                raise RuntimeError(f"block {number} wrote {sink.log_counts[number]} logs, expected {expected}")
            latency.append(sink.committed[number] - follower.heard[number])
            queue.append(follower.started[number] - follower.heard[number])
            rpc.append(follower.rpc_ns[number])
            sink_time.append(sink.sink_ns[number])
            block_hash = follower.blocks[number].hash
            baseline.append(bare.round_trip_ns("eth_getLogs", [{**params, "blockHash": "0x" + block_hash.hex()}]))
        early = sum(1 for n, t in follower.first_log.items() if n in follower.heard and t < follower.heard[n])
    finally:
        thread.stop()
        bare.close()
        writer.close()
        for name in list_ring_names(namespace):
            unlink(name)
    if errors:
        raise RuntimeError(f"the follower counted errors: {errors[:5]}")
    logs = 2 * swaps

    def median_us(samples: list[int]) -> float:
        return round(sorted(samples)[len(samples) // 2] / 1000, 1)

    head_row = latency_row(BENCH, f"Block of {logs} logs: ws head received -> BlockEnd in ring",
                           latency, logs=logs, blocks=len(latency), queue_us=median_us(queue),
                           rpc_us=median_us(rpc), sink_us=median_us(sink_time), logs_before_head=early)
    base_row = latency_row(BENCH, f"Block of {logs} logs: one bare eth_getLogs by block hash (baseline)",
                           baseline, logs=logs, blocks=len(baseline))
    if base_row.p50_us and head_row.p50_us:
        head_row.extra["x_baseline"] = round(head_row.p50_us / base_row.p50_us, 1)
    return [base_row, head_row]


def rows(args: argparse.Namespace) -> list[Row]:
    """The block latency rows: start anvil, deploy, follow, measure, stop (none with ``--no-blocks``)."""
    if args.no_blocks:
        return []
    port = args.blocks_port or next(p for p in range(28800, 28900) if port_is_free(p))
    proc = start_anvil(port, extra_args=["--gas-limit", str(10**9), "--order", "fifo"])
    try:
        return measure(port, args.blocks, args.block_swaps)
    finally:
        stop_anvil(proc)
