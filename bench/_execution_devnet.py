"""The devnet of ``python -m bench execution``: anvil, the market, one dislocated pair, the
collector's frames of it, and a strategy engine and an executor wired as the nodes wire them.

A helper of ``bench/execution.py``, not a benchmark of its own. :func:`open_devnet` starts anvil,
deploys the devnet market and starts the collector's follower (its bootstrap is the fair
market); then it makes WETH about 4 % dearer on the Uniswap V2 WETH/USDC pair (as the tests'
devnet does) and keeps the frames the follower writes for that block: the pair's ``PoolSync``
frame (the dislocation) and the block's ``[BlockEnd, GasPrice]`` frame. A second ``PoolSync``
frame, identical but for the reserves from before the swap, puts the pair back at its fair
price in a strategy's book (the chain itself stays dislocated, so every simulation of the
trade pays).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.accounts import dev_account
from contracts.anvil import port_is_free, start_anvil, stop_anvil
from contracts.arbitrage import arbitrage_contract
from contracts.client import Chain
from contracts.deploy import deploy_market
from contracts.devnet import find_pool
from contracts.events import registry_from_manifest
from contracts.factories import factories_from_manifest
from contracts.fees import next_base_fee_of
from contracts.pools import read_v2, swap_v2
from contracts.signer import FastSigner
from mesh.protocol import decode_frame, encode_frame
from mesh.protocol.constants import SourceType
from mesh.protocol.messages import PoolSync
from nodes.collector_evm.follower import ChainFollower
from nodes.executor import ExecutorNode
from nodes.executor.engine import Executor
from nodes.executor.journal import Journal
from nodes.executor.policy import load_policy
from nodes.executor.results import Job
from nodes.executor.submit import PublicSubmitter
from nodes.executor.validate import HeadView
from nodes.strategy import StrategyNode
from nodes.strategy.book import PoolBook
from nodes.strategy.deployment import load_deployment
from nodes.strategy.engine import Engine
from nodes.strategy.evaluate import Evaluator
from nodes.strategy.graph import CycleGraph
from nodes.strategy.screen import Screen

COLLECTOR = int(SourceType.POLYGON_COLLECTOR)
#: USDC paid into the V2 WETH/USDC pair: WETH about 4 % dearer there than elsewhere.
DISLOCATION_USDC = 45_000 * 10**6


def _defaults(node: Any) -> dict[str, Any]:
    return {k: v.default for k, v in node.CONTRACT.config.items()}


@dataclass(slots=True)
class Devnet:
    """A running devnet and the collector's frames of its one dislocation.

    Attributes
    ----------
    bootstrap : list of bytes
        Every frame the follower wrote: the fair market's snapshots, then the dislocation's
        blocks (a strategy fed these sees the dislocated pair).
    dislocation, fair : bytes
        The pair's ``PoolSync`` frame at the dislocated reserves (as the collector wrote it) and
        at the reserves before the swap.
    block_end : bytes
        The ``[BlockEnd, GasPrice]`` frame of the dislocation's block (the chain's head).
    """

    proc: subprocess.Popen
    chain: Chain
    manifest: dict[str, Any]
    arb: Any
    recipient: str
    tmp: Path
    bootstrap: list[bytes] = field(default_factory=list)
    dislocation: bytes = b""
    fair: bytes = b""
    block_end: bytes = b""

    def head(self) -> HeadView:
        """The chain's newest block and the fees for the next one."""
        head = self.chain.head("latest")
        return HeadView(head.number, next_base_fee_of(head), self.chain.priority_fee())

    def engine(self) -> Engine:
        """A strategy engine with the strategy node's default settings over this deployment."""
        s = {**_defaults(StrategyNode), "manifest": str(self.tmp / "manifest.json"), "recipient": self.recipient}
        dep, profit, _ = load_deployment(s, "")
        book = PoolBook(int(s["capacity"]), int(s["ticks_per_pool"]), int(s["word_radius"]))
        graph = CycleGraph(profit, int(s["max_hops"]), int(s["max_cycles_per_pool"]))
        evaluator = Evaluator(book, graph, dep, valid_ns=int(s["valid_ms"]) * 10**6,
                              max_sizing_ns=int(s["max_sizing_ms"]) * 10**6)
        engine = Engine(book, graph, evaluator, Screen(max_candidates=int(s["max_candidates"])),
                        int(s["max_pass_ms"]) * 10**6)
        engine.warm_up()
        return engine

    def executor(self, journal: str) -> Executor:
        """An executor with the executor node's default settings, trading from the deployer's
        account through the public mempool; its journal in ``tmp``; its head the chain's."""
        settings = {**_defaults(ExecutorNode), "recipient": self.recipient}
        policy = load_policy(settings, self.manifest, self.chain.chain_id)
        ex = Executor(self.chain, self.arb, policy, Journal(self.tmp / journal),
                      FastSigner(self.chain.account, self.chain.chain_id), PublicSubmitter(self.chain),
                      lambda: False, max_in_flight=int(settings["max_in_flight"]))
        ex.head = self.head()
        return ex

    def close(self) -> None:
        """Stop anvil and remove the temporary files."""
        try:
            stop_anvil(self.proc)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def forget(ex: Executor, job: Job) -> None:
    """Book ``job`` as the node books a job its worker finished (sent), then as settled: the
    executor takes the next opportunity through the same pools (the bench never mines)."""
    ex.working -= 1
    ex.sent(job)
    ex.in_flight.pop(job.oid)
    ex.release(job)


def _fair_copy(frame: bytes, reserve0: int, reserve1: int) -> bytes:
    """``frame`` with its PoolSync's reserves replaced."""
    decoded = decode_frame(frame)
    tlvs = [t.replace(reserve0=reserve0, reserve1=reserve1) if isinstance(t, PoolSync) else t
            for t in decoded.tlvs]
    return encode_frame(tlvs, source=COLLECTOR, sequence=decoded.header.sequence)


def _follow(net: Devnet) -> None:
    """The follower's bootstrap, then the dislocation and the frames the follower writes for it."""
    errors: list[str] = []

    def sink(out: list) -> None:
        for tlvs in out:
            net.bootstrap.append(encode_frame(tlvs, source=COLLECTOR, sequence=len(net.bootstrap)))

    follower = ChainFollower(Chain(net.chain.url), registry_from_manifest(net.manifest),
                             factories_from_manifest(net.manifest), sink,
                             lambda kind, detail: errors.append(f"{kind}: {detail}"))
    follower.start()
    pair = find_pool(net.manifest, "uniswap_v2", "WETH/USDC")["address"]
    before = read_v2(net.chain, pair)
    first = len(net.bootstrap)
    swap_v2(net.chain, pair, net.manifest["tokens"]["USDC"]["address"], DISLOCATION_USDC)
    follower.catch_up()
    if errors:
        raise RuntimeError(f"the follower failed: {errors[:3]}")
    block = [(f, decode_frame(f)) for f in net.bootstrap[first:]]
    net.dislocation = next(f for f, d in block if isinstance(d.tlvs[0], PoolSync))
    net.block_end = block[-1][0]
    net.fair = _fair_copy(net.dislocation, before.reserve0, before.reserve1)


def open_devnet(port: int = 0) -> Devnet:
    """Start anvil (``port``, or the first free one from 28545), deploy, dislocate, follow.

    The caller must :meth:`Devnet.close` it; on an error here anvil is stopped before raising.
    """
    port = port or next(p for p in range(28545, 28645) if port_is_free(p))
    proc = start_anvil(port)
    tmp = Path(tempfile.mkdtemp(prefix="bench-execution-"))
    try:
        chain = Chain(f"http://127.0.0.1:{port}", timeout=60)
        manifest = deploy_market(chain)
        (tmp / "manifest.json").write_text(json.dumps(manifest))
        net = Devnet(proc, chain, manifest, arbitrage_contract(chain, manifest["flash_arbitrage"]),
                     dev_account(2).address, tmp)
        _follow(net)
    except BaseException:
        stop_anvil(proc)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return net
