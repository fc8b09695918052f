"""The executor's hot path on a devnet: received -> signed, -> accepted by anvil, and the whole
pipeline from a price update in the ring.

``python -m bench execution [--json] [--iterations N] [--port P]``

Starts its own anvil (always stopped), deploys the devnet market and dislocates one Uniswap V2
pair (:mod:`bench._execution_devnet`); the opportunity is the one the strategy engine finds
there, published as the strategy node publishes it. Rows, all in one run:

* ``received -> validated -> signed (no network)``: ``decode_frame`` of the received
  ``[ArbitrageOpportunity, ArbitrageRoute]`` frame, :meth:`Executor.admit` (policy checks and
  the journal's claim, SQLite WAL in a temporary file; a fresh opportunity id each time),
  :func:`~nodes.executor.validate.bid` (the head set by hand), the trade's calldata (ABI) and
  :meth:`FastSigner.sign`; the p50 of each step beside it (``admit`` includes the decode).
  Target p50 <= 300 us. Baselines:
  ``struct`` pack + unpack of a frame of the same size; eth-account's
  ``Account.sign_transaction`` of the same transaction (the path FastSigner replaced; both
  give the same bytes, checked).
* ``received -> accepted by anvil``: the same decode and admit, then :meth:`Executor.execute`
  (the ``eth_call`` batch simulating the trade and its profit probe, the bid, signing,
  ``eth_sendRawTransaction``) until anvil answered the transaction's hash; the p50 of each step
  from the job's own stamps (``admit`` with the decode, ``simulate``, ``bid_sign`` with the
  calldata, ``send`` with the journal's record). Automine is off, so
  the chain does not move and every iteration simulates the same profitable trade; pending
  transactions are dropped and the nonce manager re-read between iterations (untimed). Target
  p50 <= 3 ms. Baselines through the same :class:`Chain` client: ``eth_blockNumber``, and
  ``eth_sendRawTransaction`` of the same transaction signed beforehand; and on a bare
  ``http.client`` connection (no JSON-RPC client): ``eth_blockNumber`` (the HTTP round trip),
  one ``eth_call`` of the trade (anvil's EVM on top) and the same ``eth_sendRawTransaction``.
* ``ring -> accepted by anvil, whole pipeline`` (:mod:`bench._execution_pipeline`, which says
  exactly what it includes): the dislocation's ``PoolSync`` and ``BlockEnd`` frames through a
  shared-memory ring into the strategy engine, the first opportunity's frame encoded and
  decoded, then admit and execute as above, in one process; ``found`` is the p50 up to the
  first opportunity sized. Baseline: raw pyzmq PUB -> SUB of a frame of the opportunity's size
  (the hop between the strategy and executor nodes that this row leaves out).

``--iterations`` is the sample count of the rows that touch the network; the rows without
network take ten times as many. The process is pinned to one CPU (anvil is not).
"""

from __future__ import annotations

import argparse
import gc
import http.client
import struct
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import orjson
from eth_account import Account

from bench._execution_devnet import Devnet, forget, open_devnet
from bench._execution_pipeline import Pipeline, pipeline_rows
from bench.pinning import cpus, pin, unpin
from bench.report import Row, latency_row
from contracts.anvil import set_automine
from mesh.protocol import ArbitrageOpportunity, decode_frame, encode_frame
from mesh.protocol.constants import SourceType
from mesh.protocol.messages import ArbitrageRoute
from nodes.executor.engine import Executor
from nodes.executor.results import Job
from nodes.executor.validate import bid

BENCH = "execution"
TARGET_SIGNED_US = 300
TARGET_ACCEPTED_US = 3000
WARMUP = 20
STRATEGY = int(SourceType.ARBITRAGE_STRATEGY)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--iterations``: samples of the network rows (ten times as many without network);
    ``--port``: anvil's port (default: the first free one from 28545)."""
    parser.add_argument("--iterations", type=int, default=300,
                        help="samples per network row (rows without network: 10x)")
    parser.add_argument("--port", type=int, default=0, help="anvil port (default: first free from 28545)")


def _target(row: Row, target_us: int) -> Row:
    row.extra["target_us"] = target_us
    row.extra["ok"] = "yes" if row.p50_us is not None and row.p50_us <= target_us else "NO"
    return row


def fresh_frames(opp: ArbitrageOpportunity, route: ArbitrageRoute, count: int, base: int) -> list[bytes]:
    """``count`` frames of the opportunity, each with its own opportunity id from ``base`` on."""
    out = []
    for k in range(count):
        oid = base + k
        out.append(encode_frame([opp.replace(opportunity_id=oid), route.replace(opportunity_id=oid)],
                                source=STRATEGY, sequence=k))
    return out


def received(ex: Executor, raw: bytes) -> Job:
    """Decode a received opportunity frame and admit it (as the node does)."""
    now = time.time_ns()
    frame = decode_frame(raw)
    opp, route = frame.first(ArbitrageOpportunity), frame.first(ArbitrageRoute)
    assert isinstance(opp, ArbitrageOpportunity) and isinstance(route, ArbitrageRoute)
    return ex.admit(opp, route, raw, now, frame.header.timestamp_ns)


def calldata(ex: Executor, job: Job) -> bytes:
    """FlashArbitrage ``execute(trade)`` calldata of a job, encoded as the executor encodes what
    it signs."""
    return ex._payload(job)


def timed(count: int, step: Callable[[int], object], between: Callable[[], object] | None = None) -> np.ndarray:
    """ns of ``step(k)`` for k in 0..count-1 after :data:`WARMUP` untimed calls; ``between``
    runs before each call, untimed."""
    out = np.zeros(count, np.int64)
    clock = time.perf_counter_ns
    gc.collect()
    for k in range(-WARMUP, count):
        if between is not None:
            between()
        t0 = clock()
        step(k + WARMUP)
        if k >= 0:
            out[k] = clock() - t0
    return out


# -- received -> signed ---------------------------------------------------------------------------


def signed_rows(net: Devnet, opp: ArbitrageOpportunity, route: ArbitrageRoute, n: int) -> list[Row]:
    """The no-network row, its step medians, and its two baselines."""
    ex = net.executor("signed.journal")
    head = ex.head
    assert head is not None
    frames = fresh_frames(opp, route, n + WARMUP, 1 << 40)
    gross = opp.expected_out - opp.amount_in - opp.flash_fee
    steps = np.zeros((n + WARMUP, 4), np.int64)
    clock = time.perf_counter_ns
    signed: list = []
    jobs: list[Job] = []

    def step(k: int) -> None:
        t0 = clock()
        job = received(ex, frames[k])
        t1 = clock()
        b = bid(job.opp, job.route, ex.policy, head, gross)
        t2 = clock()
        payload = calldata(ex, job)
        t3 = clock()
        signed.append(ex.signer.sign(nonce=k, gas=b.gas_limit, max_fee=b.max_fee, priority_fee=b.priority_fee,
                                     to=ex.arb.address, data=payload))
        steps[k] = (t1 - t0, t2 - t1, t3 - t2, clock() - t3)
        forget(ex, job)
        jobs.append(job)

    timed(n, step)
    samples = steps[WARMUP:].sum(axis=1)  # the steps only, not this loop's bookkeeping
    ex.journal.close()
    last = signed[-1]
    tx = {"type": 2, "chainId": net.chain.chain_id, "nonce": last.nonce, "gas": last.gas,
          "maxFeePerGas": last.max_fee, "maxPriorityFeePerGas": last.priority_fee,
          "to": ex.arb.address, "value": 0, "data": calldata(ex, jobs[-1])}
    key = net.chain.account.key
    assert bytes(Account.sign_transaction(tx, key).raw_transaction) == last.raw, "FastSigner differs from eth-account"
    eth_account = timed(n, lambda k: Account.sign_transaction(tx, key))
    size = len(frames[0])
    layout = struct.Struct("<" + "Q" * (size // 8) + f"{size % 8}s")
    values = layout.unpack(frames[0])
    packed = timed(n, lambda k: layout.unpack(layout.pack(*values)))
    p50 = np.median(steps[WARMUP:], axis=0) / 1000
    row = latency_row(BENCH, "received -> validated -> signed (no network)", samples, frame_b=size,
                      admit_p50_us=round(float(p50[0]), 1), bid_p50_us=round(float(p50[1]), 1),
                      calldata_p50_us=round(float(p50[2]), 1), sign_p50_us=round(float(p50[3]), 1))
    return [latency_row(BENCH, f"struct pack+unpack {size} B (baseline)", packed),
            latency_row(BENCH, "eth-account Account.sign_transaction, same tx (baseline)", eth_account),
            _target(row, TARGET_SIGNED_US)]


# -- received -> accepted by anvil ----------------------------------------------------------------


class BareRpc:
    """JSON-RPC posted on one kept-alive ``http.client`` connection: the HTTP round trip and the
    node's work without a JSON-RPC client's own (the bare baselines)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.path = parts.path or "/"
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)

    def ask(self, method: str, params: list[Any]) -> bytes:
        """The raw answer; raises ``RuntimeError`` when it is not a result."""
        body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        self.conn.request("POST", self.path, body, {"Content-Type": "application/json"})
        answer = self.conn.getresponse().read()
        if b'"result"' not in answer:
            raise RuntimeError(f"{method}: {answer[:200]!r}")
        return answer

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def reset_pool(net: Devnet, ex: Executor) -> None:
    """Drop anvil's pending transactions; re-read the account's nonce into the nonce manager."""
    net.chain.rpc("anvil_dropAllTransactions", [])
    ex.nonces.resync()
    ex.nonces.give_back(ex.nonces.take())


def accepted_rows(net: Devnet, opp: ArbitrageOpportunity, route: ArbitrageRoute, n: int) -> list[Row]:
    """The received -> accepted row (automine off) and its two network baselines."""
    ex = net.executor("accepted.journal")
    frames = fresh_frames(opp, route, n + WARMUP, 2 << 40)
    jobs: list[Job] = []
    took = np.zeros(n + WARMUP, np.int64)
    clock = time.perf_counter_ns

    def step(k: int) -> None:
        t0 = clock()
        job = received(ex, frames[k])
        ex.execute(job)
        took[k] = clock() - t0
        jobs.append(job)
        forget(ex, job)

    timed(n, step, lambda: reset_pool(net, ex))
    samples = took[WARMUP:]
    ex.journal.close()
    block_number = timed(n, lambda k: net.chain.rpc("eth_blockNumber"))
    reset_pool(net, ex)
    last = jobs[-1]
    raw = last.raw
    assert last.nonce == ex.nonces.take(), "the pool was not emptied between iterations"

    def drop() -> None:
        net.chain.rpc("anvil_dropAllTransactions", [])

    send_raw = timed(n, lambda k: net.chain.send_raw(raw), drop)
    bare = BareRpc(net.chain.url)
    try:
        bare_number = timed(n, lambda k: bare.ask("eth_blockNumber", []))
        call = [{"from": ex.signer.address, "to": ex.arb.address, "data": "0x" + calldata(ex, last).hex()}, "latest"]
        bare_call = timed(n, lambda k: bare.ask("eth_call", call))
        bare_send = timed(n, lambda k: bare.ask("eth_sendRawTransaction", ["0x" + raw.hex()]), drop)
    finally:
        bare.close()
    done = jobs[WARMUP:]

    def p50(a: str, b: str) -> float:
        return round(float(np.median([getattr(j, b) - getattr(j, a) for j in done])) / 1000, 1)

    row = latency_row(BENCH, "received -> accepted by anvil (simulation included)", samples,
                      admit_p50_us=p50("received_ns", "validated_ns"),
                      simulate_p50_us=p50("validated_ns", "simulated_ns"),
                      bid_sign_p50_us=p50("simulated_ns", "signed_ns"), send_p50_us=p50("signed_ns", "sent_ns"))
    return [latency_row(BENCH, "eth_blockNumber via Chain (baseline)", block_number),
            latency_row(BENCH, f"eth_sendRawTransaction {len(raw)} B pre-signed via Chain (baseline)", send_raw),
            latency_row(BENCH, "eth_blockNumber, bare http.client (baseline)", bare_number),
            latency_row(BENCH, "eth_call of the trade, bare http.client (baseline)", bare_call),
            latency_row(BENCH, "eth_sendRawTransaction, bare http.client (baseline)", bare_send),
            _target(row, TARGET_ACCEPTED_US)]


def run(args: argparse.Namespace) -> list[Row]:
    """Start anvil, set the devnet up, measure every row; anvil and the rings always go."""
    n = args.iterations
    net = open_devnet(args.port)
    allowed = cpus()
    pipeline = None
    try:
        pin(1)
        pipeline = Pipeline(net)
        found = pipeline.start()
        assert found, "the strategy found nothing on the dislocated devnet"
        opp, route = pipeline.published(found[0], valid_ms=3_600_000)
        rows = signed_rows(net, opp, route, 10 * n)
        set_automine(net.chain, False)
        rows += accepted_rows(net, opp, route, n)
        rows += pipeline_rows(pipeline, n, lambda ex: reset_pool(net, ex))
        return rows
    finally:
        unpin(allowed)
        if pipeline is not None:
            pipeline.close()
        net.close()
