"""One devnet per pytest-xdist worker for every test directory: anvil on a unique port, the market
deployed once (a pytest plugin of the root conftest).

The session fixture always kills its anvil, also when a test or the deployment fails. Tests take
an ``evm_snapshot`` before and revert after (fixture ``net``), so they do not see each other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from contracts.accounts import dev_account
from contracts.anvil import PortInUse, port_is_free, start_anvil, stop_anvil
from contracts.arbitrage import PoolBook, arbitrage_contract
from contracts.client import Chain
from contracts.deploy import deploy_market
from contracts.devnet import find_pool
from contracts.pools import erc20, swap_v2

#: Seconds a test's chain client waits for anvil: far above its usual milliseconds.
TEST_RPC_TIMEOUT_S = 60.0


def worker_port() -> int:
    """A free port unique to this xdist worker and process."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw99")
    n = int(worker[2:]) if worker[2:].isdigit() else 99
    base = 20000 + (os.getpid() % 400) * 100 + n % 10
    for k in range(10):
        port = base + 10 * k
        if port_is_free(port):
            return port
    raise PortInUse(f"no free port found from {base}")


@dataclass
class Net:
    """The worker's devnet: owner chain, a stranger, a recipient and the manifest."""

    chain: Chain
    stranger: Chain
    recipient: str
    manifest: dict[str, Any]
    arb: Any
    book: PoolBook

    def token(self, symbol: str) -> str:
        """Address of a test token."""
        return self.manifest["tokens"][symbol]["address"]

    def balance(self, symbol: str, who: str) -> int:
        """Raw balance of ``who`` in ``symbol``."""
        return erc20(self.chain, self.token(symbol)).functions.balanceOf(who).call()

    def pool(self, venue: str, pair: str, fee: int | None = None) -> str:
        """Address of a pool from the manifest."""
        return find_pool(self.manifest, venue, pair, fee)["address"]


def _mispricing(net: Net) -> None:
    """Make WETH about 4 % dearer on the V2 WETH/USDC pair and 3 % on V2 WETH/DAI than elsewhere."""
    swap_v2(net.chain, net.pool("uniswap_v2", "WETH/USDC"), net.token("USDC"), 45_000 * 10**6)
    swap_v2(net.chain, net.pool("uniswap_v2", "WETH/DAI"), net.token("DAI"), 45_000 * 10**18)


@pytest.fixture(scope="session")
def devnet() -> Iterator[Net]:
    """Start anvil for this worker, deploy the market, create the mispricing; kill anvil at the end."""
    proc = None
    for _ in range(5):
        try:
            port = worker_port()
            proc = start_anvil(port)
            break
        except PortInUse:
            continue
    if proc is None:
        pytest.fail("could not start anvil on a free port")
    try:
        url = f"http://127.0.0.1:{port}"
        # Generous: under the full parallel suite anvil has been seen silent for over 10 s.
        chain = Chain(url, timeout=TEST_RPC_TIMEOUT_S)
        manifest = deploy_market(chain)
        arb = arbitrage_contract(chain, manifest["flash_arbitrage"])
        stranger = Chain(url, dev_account(1), decoder=chain.decoder, timeout=TEST_RPC_TIMEOUT_S)
        net = Net(chain, stranger, dev_account(2).address, manifest, arb, PoolBook(chain, arb))
        _mispricing(net)
        yield net
    finally:
        stop_anvil(proc)


@pytest.fixture
def net(devnet: Net) -> Iterator[Net]:
    """The worker's devnet, restored to its deployed state after the test."""
    snap = devnet.chain.snapshot()
    try:
        yield devnet
    finally:
        devnet.chain.revert_to(snap)
        # A snapshot does not hold the mining mode nor the transaction pool: a test that left
        # automine off, interval mining on or a transaction pending (one that did not fit its
        # block, or whose nonce is past the reverted account's) would leak it into the next.
        devnet.chain.rpc("anvil_dropAllTransactions", [])
        devnet.chain.rpc("evm_setIntervalMining", [0])
        devnet.chain.rpc("evm_setAutomine", [True])
        devnet.chain._nonce = None
        devnet.stranger._nonce = None
