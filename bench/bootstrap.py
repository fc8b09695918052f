"""Bootstrap of many pools at one block: batched eth_call rounds beside one eth_call per field.

Rows of ``python -m bench collector`` (issue 10), after its log rows; ``--no-bootstrap`` leaves
them out. The bench starts its own anvil on a free port, deploys test tokens and
``--bootstrap-pools`` pools (half Uniswap V2 pairs with liquidity, half Uniswap V3 pools over three
fee tiers, each initialized with three positions around its price), then times, in interleaved
rounds at one block:

- :func:`contracts.snapshot.snapshot_pools` (radius 8 words, batches of at most 1000 requests);
- the baseline: the same calls, one ``eth_call`` per field and per HTTP round trip
  (``snapshot_pools`` with ``max_batch=1``: the same decoding, only the batching differs).

Both must return the same states, and a sample of pools must equal what the web3 per-field
readers (:func:`contracts.pools.read_v2` / :func:`contracts.pools.read_v3`) read; those are not
timed: their web3 contract set-up, not the round trips, dominates their time.
``p50_us`` / ``max_us`` are per pool over the rounds, ``wall_ms`` the median time for all pools,
``round_trips`` the HTTP requests of one bootstrap.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from eth_utils import to_checksum_address

from bench.report import Row, per_op_row
from contracts.anvil import mine, port_is_free, set_automine, start_anvil, stop_anvil
from contracts.client import Chain
from contracts.deploy import v2_pair_address, v3_pool_address
from contracts.events import PoolInfo
from contracts.npm import V2, V3, npm_artifact, own_artifact
from contracts.pools import V2State, V3State, read_v2, read_v3
from contracts.snapshot import DEFAULT_MAX_BATCH, snapshot_pools
from contracts.v3math import sqrt_ratio_at_tick
from mesh.protocol.constants import PoolKind

BENCH = "collector"
RADIUS = 8
TOKENS = 24  # 276 token pairs: enough for 250 V2 pairs
V3_FEES = ((500, 10), (3000, 60), (10_000, 200))
SUPPLY = 10**36
MAX_UINT = 2**256 - 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Bootstrap options of the collector bench."""
    parser.add_argument("--no-bootstrap", action="store_true", help="leave out the pool bootstrap rows")
    parser.add_argument("--bootstrap-pools", type=int, default=500, help="pools to deploy and bootstrap")
    parser.add_argument("--bootstrap-rounds", type=int, default=3, help="timed rounds per method")
    parser.add_argument("--bootstrap-port", type=int, default=0,
                        help="anvil port (default: the first free one from 28700)")


class _Deployer:
    """Sends through anvil's unlocked development account (anvil signs: no local ECDSA), with
    explicit nonces and gas, in JSON-RPC batches; :meth:`check` reads the receipts."""

    def __init__(self, chain: Chain):
        self.chain = chain
        self.queued: list[dict[str, Any]] = []
        self.sent: list[bytes] = []

    def send(self, contract: Any, fn: str, *args: Any, gas: int = 1_000_000, to: str | None = None) -> None:
        """Queue ``contract.fn(*args)`` (to ``to`` when given: same ABI, another address)."""
        self.queued.append({"from": self.chain.address, "to": to or contract.address, "gas": hex(gas),
                            "nonce": hex(self.chain.next_nonce()), "data": contract.encode_abi(fn, args=list(args))})

    def flush(self) -> None:
        """Send every queued transaction (anvil keeps them pending while automine is off)."""
        for start in range(0, len(self.queued), 500):
            chunk = self.queued[start:start + 500]
            hashes = self.chain.rpc_batch([("eth_sendTransaction", [tx]) for tx in chunk])
            self.sent += [bytes.fromhex(h[2:]) for h in hashes]
        self.queued.clear()

    def deploy(self, art: dict[str, Any], *args: Any) -> Any:
        return self.chain.contract(self.chain.deploy(art["abi"], art["bytecode"], *args), art["abi"])

    def check(self) -> None:
        """Every transaction sent was mined with status 1 (receipts asked in batches)."""
        for start in range(0, len(self.sent), 500):
            chunk = self.sent[start:start + 500]
            receipts = self.chain.rpc_batch([("eth_getTransactionReceipt", ["0x" + h.hex()]) for h in chunk])
            failed = [h.hex() for h, r in zip(chunk, receipts, strict=True) if not r or r.get("status") != "0x1"]
            if failed:
                raise AssertionError(f"{len(failed)} of {len(self.sent)} deployment transactions failed, "
                                     f"first 0x{failed[0]}")
        self.sent.clear()


def deploy_pools(chain: Chain, count: int) -> dict[str, PoolInfo]:
    """Deploy tokens and ``count`` pools (half V2, half V3); returns their registry."""
    d = _Deployer(chain)
    erc, per_art = own_artifact("TestERC20"), own_artifact("DevnetPeriphery")
    tokens = sorted((d.deploy(erc, f"Bench {i}", f"B{i}", 18) for i in range(TOKENS)),
                    key=lambda t: int(t.address, 16))
    periphery = d.deploy(per_art)
    v2_art, v3_art = npm_artifact(V2, "UniswapV2Factory"), npm_artifact(V3, "UniswapV3Factory")
    v2 = d.deploy(v2_art, chain.address)
    v3 = d.deploy(v3_art)
    for token in tokens:
        d.send(token, "mint", chain.address, SUPPLY)
        d.send(token, "approve", periphery.address, MAX_UINT)
    pairs = [(a, b) for i, a in enumerate(tokens) for b in tokens[i + 1:]]
    pair_abi = chain.contract(v2.address, npm_artifact(V2, "UniswapV2Pair")["abi"])
    pool_abi = chain.contract(v3.address, npm_artifact(V3, "UniswapV3Pool")["abi"])
    n_v2 = count // 2
    registry: dict[str, PoolInfo] = {}
    for k, (a, b) in enumerate(pairs[:n_v2]):
        d.send(v2, "createPair", a.address, b.address, gas=3_000_000)
        pair = v2_pair_address(v2.address, a.address, b.address)
        d.send(a, "transfer", pair, 10**21 + k * 10**18)
        d.send(b, "transfer", pair, 10**21)
        d.send(pair_abi, "mint", chain.address, gas=300_000, to=pair)
        registry[pair] = _info(PoolKind.UNISWAP_V2, a.address, b.address, 30, 0)
    for k in range(count - n_v2):
        a, b = pairs[k // len(V3_FEES)]
        fee, spacing = V3_FEES[k % len(V3_FEES)]
        d.send(v3, "createPool", a.address, b.address, fee, gas=6_000_000)
        address = v3_pool_address(v3.address, a.address, b.address, fee)
        tick = (k * 37) % 2000 - 1000  # prices near 1, varied
        d.send(pool_abi, "initialize", sqrt_ratio_at_tick(tick), gas=200_000, to=address)
        base = tick // spacing * spacing
        for width in (2, 20, 200):  # a few positions around the price, inside the radius
            d.send(periphery, "mintV3", address, base - width * spacing, base + width * spacing, 10**18,
                   gas=800_000)
        registry[address] = _info(PoolKind.UNISWAP_V3, a.address, b.address, fee, spacing)
    set_automine(chain, False)  # every pool transaction in one block (the bench's anvil allows 10**13 gas)
    d.flush()
    mine(chain)
    set_automine(chain, True)
    # Calls at the block of ~2000 deployment transactions are several times slower on anvil than
    # at an ordinary head: bootstrap at the next block, as a collector would at a fresh head.
    mine(chain)
    d.check()
    return registry


def _info(kind: PoolKind, a: str, b: str, fee: int, spacing: int) -> PoolInfo:
    return PoolInfo(kind, bytes.fromhex(a[2:]), bytes.fromhex(b[2:]), 18, 18, fee, spacing)


def _cross_check(chain: Chain, registry: dict[str, PoolInfo], states: dict[str, V2State | V3State],
                 every: int = 25) -> None:
    """Every ``every``-th pool's state equals what the web3 per-field readers read (not timed)."""
    for address in list(registry)[::every]:
        v2 = registry[address].kind == PoolKind.UNISWAP_V2
        slow = read_v2(chain, address) if v2 else read_v3(chain, address, RADIUS)
        assert states[address] == slow, f"{address}: snapshot {states[address]} != reader {slow}"


def measure(chain: Chain, registry: dict[str, PoolInfo], rounds: int) -> list[Row]:
    """Time both methods over ``rounds`` interleaved rounds at the latest block."""
    block = chain.block_number()
    methods = {"per-field": 1, "snapshot": DEFAULT_MAX_BATCH}  # max_batch 1: one eth_call per round trip
    samples: dict[str, list[float]] = {how: [] for how in methods}
    trips: dict[str, int] = {}
    expected = None
    for _ in range(rounds):
        for how, max_batch in methods.items():
            t0 = time.perf_counter_ns()
            snap = snapshot_pools(chain, registry, block, word_radius=RADIUS, max_batch=max_batch)
            samples[how].append((time.perf_counter_ns() - t0) / 1000)
            assert not snap.failed, f"{len(snap.failed)} pools failed: {next(iter(snap.failed.values()))}"
            trips[how] = snap.round_trips
            expected = expected or snap.states
            assert snap.states == expected, f"{how}: states differ from the first bootstrap's"
    assert expected is not None
    _cross_check(chain, registry, expected)
    n = len(registry)
    out = []
    for how, label in (("per-field", "one eth_call per round trip (baseline)"),
                       ("snapshot", f"batched eth_call, batches <= {DEFAULT_MAX_BATCH}")):
        wall_us = samples[how]
        out.append(per_op_row(BENCH, f"Bootstrap {n} pools: {label}", [us / n for us in wall_us], pools=n,
                              wall_ms=round(statistics.median(wall_us) / 1000, 1), round_trips=trips[how]))
    if out[0].p50_us and out[1].p50_us:
        out[1].extra["x_baseline"] = round(out[0].p50_us / out[1].p50_us, 1)
    return out


def rows(args: argparse.Namespace) -> list[Row]:
    """The bootstrap rows: start anvil, deploy, measure, stop anvil (none with ``--no-bootstrap``)."""
    if args.no_bootstrap:
        return []
    port = args.bootstrap_port or next(p for p in range(28700, 28800) if port_is_free(p))
    proc = start_anvil(port, extra_args=["--gas-limit", str(10**13), "--order", "fifo"])
    try:
        chain = Chain(f"http://127.0.0.1:{port}", timeout=120)
        registry = deploy_pools(chain, args.bootstrap_pools)
        registry = {to_checksum_address(a): i for a, i in registry.items()}
        return measure(chain, registry, args.bootstrap_rounds)
    finally:
        stop_anvil(proc)
