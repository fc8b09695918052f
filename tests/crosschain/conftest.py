"""Two devnets per pytest-xdist worker: chain A (id 31337) and chain B (id 31338), the same market.

``two_devnets_session`` starts two anvils on free loopback ports, deploys the market on A and
loads A's whole state into B (``anvil_dumpState`` / ``anvil_loadState``: the same tokens, pools,
addresses, reserves and prices, in a second instead of a second deployment), writes each chain's
manifest (and anvil pid file) into a devnet directory of its own, and kills both anvils at the
end, also when a test or the deployment fails.

``two_devnets`` is that pair restored after each test (an ``evm_snapshot`` of both chains
before, reverted after), so tests do not see each other's swaps. Prices are equal on both
chains at the start of every test; ``part_prices`` moves one chain's pool.

A collector follows a chain with configuration only: ``manifest = str(chain.manifest_path)``
(its ``rpc_url`` is the chain's).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contracts.accounts import dev_account
from contracts.anvil import PortInUse, start_anvil, stop_anvil
from contracts.arbitrage import PoolBook, arbitrage_contract
from contracts.client import Chain
from contracts.deploy import deploy_market
from contracts.pools import swap_v2
from tests.devnet_fixtures import TEST_RPC_TIMEOUT_S, Net, worker_port

#: Chain ids of the two devnets.
CHAIN_A, CHAIN_B = 31337, 31338


@dataclass
class ChainNet(Net):
    """One of the two devnets: a :class:`tests.devnet_fixtures.Net` plus where it lives."""

    chain_id: int = 0
    port: int = 0
    devnet_dir: Path = field(default_factory=Path)

    @property
    def url(self) -> str:
        """The chain's JSON-RPC (and websocket) endpoint."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def manifest_path(self) -> Path:
        """The manifest a collector of this chain is configured with."""
        return self.devnet_dir / "manifest.json"


@dataclass
class TwoDevnets:
    """Chain A and chain B (``a``, ``b``), equal markets on different chain ids."""

    a: ChainNet
    b: ChainNet

    @property
    def chains(self) -> tuple[ChainNet, ChainNet]:
        """Both chains, A first."""
        return self.a, self.b


def _start(chain_id: int) -> tuple[int, object]:
    for _ in range(10):
        port = worker_port()
        try:
            return port, start_anvil(port, chain_id=chain_id, timeout=60.0)
        except PortInUse:
            continue
    pytest.fail(f"could not start anvil for chain {chain_id} on a free port")


def _handle(chain: Chain, manifest: dict, chain_id: int, port: int, proc: object,
            base: Path) -> ChainNet:
    manifest = {**manifest, "chain_id": chain_id, "rpc_url": chain.url,
                "anvil": {"pid": proc.pid, "host": "127.0.0.1", "port": port}}  # type: ignore[attr-defined]
    directory = base / f"devnet-{chain_id}"
    directory.mkdir()
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    (directory / "anvil.pid").write_text(f"{proc.pid}\n")  # type: ignore[attr-defined]
    arb = arbitrage_contract(chain, manifest["flash_arbitrage"])
    stranger = Chain(chain.url, dev_account(1), decoder=chain.decoder, timeout=TEST_RPC_TIMEOUT_S)
    return ChainNet(chain, stranger, dev_account(2).address, manifest, arb, PoolBook(chain, arb),
                    chain_id=chain_id, port=port, devnet_dir=directory)


@pytest.fixture(scope="session")
def two_devnets_session() -> Iterator[TwoDevnets]:
    """Two anvils (chain ids 31337 and 31338) with the same market; killed at the end."""
    procs: list[object] = []
    base = Path(tempfile.mkdtemp(prefix="ap-2dev-"))
    try:
        port_a, proc_a = _start(CHAIN_A)
        procs.append(proc_a)
        port_b, proc_b = _start(CHAIN_B)
        procs.append(proc_b)
        chain_a = Chain(f"http://127.0.0.1:{port_a}", timeout=TEST_RPC_TIMEOUT_S)
        manifest = deploy_market(chain_a)
        chain_b = Chain(f"http://127.0.0.1:{port_b}", decoder=chain_a.decoder,
                        timeout=TEST_RPC_TIMEOUT_S)
        assert chain_b.rpc("anvil_loadState", [chain_a.rpc("anvil_dumpState", [])]) is True
        assert (chain_a.chain_id, chain_b.chain_id) == (CHAIN_A, CHAIN_B)
        yield TwoDevnets(_handle(chain_a, manifest, CHAIN_A, port_a, proc_a, base),
                         _handle(chain_b, manifest, CHAIN_B, port_b, proc_b, base))
    finally:
        for proc in procs:
            stop_anvil(proc)  # type: ignore[arg-type]
        shutil.rmtree(base, ignore_errors=True)


def _restore(net: ChainNet, snap: str) -> None:
    net.chain.revert_to(snap)
    net.chain.rpc("anvil_dropAllTransactions", [])
    net.chain.rpc("evm_setIntervalMining", [0])
    net.chain.rpc("evm_setAutomine", [True])
    net.chain.forget_nonce()
    net.stranger.forget_nonce()


@pytest.fixture
def two_devnets(two_devnets_session: TwoDevnets) -> Iterator[TwoDevnets]:
    """The worker's two devnets, both restored to their deployed (equal) state after the test."""
    snaps = [net.chain.snapshot() for net in two_devnets_session.chains]
    try:
        yield two_devnets_session
    finally:
        for net, snap in zip(two_devnets_session.chains, snaps, strict=True):
            _restore(net, snap)


def part_prices(net: ChainNet, pair: str = "WETH/USDC", pay: str = "USDC",
                amount: int = 45_000 * 10**6, venue: str = "uniswap_v2") -> str:
    """Swap ``amount`` raw units of ``pay`` into ``venue``'s ``pair`` pool on one chain (the
    other chain's price stays): the pool's price moves. Returns the pool's address."""
    pool = net.pool(venue, pair)
    swap_v2(net.chain, pool, net.token(pay), amount)
    return pool
