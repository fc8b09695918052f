"""Hostile contracts and odd tokens for the attack tests: deployment helpers and mode numbers.

``HostilePool`` (contracts/src/test/HostilePool.sol) poses as a V2 pair, a V3 pool or the Aave pool;
``HostileFactory`` deploys it at the CREATE2 address a trusted factory would give a genuine pool, so a
FlashArbitrage deployed with that factory accepts it: what is left to stop it are the callbacks' checks
and the balance checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.arbitrage import arbitrage_contract
from contracts.deploy import deploy_arbitrage, init_code_hash
from contracts.npm import V2, own_artifact
from contracts.pools import erc20

HONEST, ASK_MORE, ASK_OUTPUT_SIDE, SKIP_CALLBACK, PARTIAL, REENTER, SHORT_OUTPUT = range(7)
FORGE_AMOUNT, FORGE_FEE, FORGE_TOKEN, FORGE_DATA, FORGE_INITIATOR, NO_LOAN, PULL_MORE, CALL_PAYLOAD = range(7, 15)
SYMBOLS = ("WETH", "USDC", "DAI", "WBTC")
#: What the contract holds before every attack: raw units per token.
HELD = {"WETH": 5 * 10**18, "USDC": 20_000 * 10**6, "DAI": 20_000 * 10**18, "WBTC": 10**8}


def deploy(net, name: str, *args: Any) -> Any:
    """Deploy one of the repository's contracts from the owner account."""
    art = own_artifact(name)
    return net.chain.contract(net.chain.deploy(art["abi"], art["bytecode"], *args), art["abi"])


def hostile_pool(net, a: str, b: str, fee: int = 0) -> Any:
    """A HostilePool for tokens ``a``/``b`` at an address no genuine factory gives it."""
    pool = deploy(net, "HostilePool")
    net.chain.transact(pool, "setup", a, b, fee)
    return pool


def fund(net, who: str, amounts: dict[str, int] | None = None) -> None:
    """Send ``amounts`` (default :data:`HELD`) of each token from the deployer to ``who``."""
    for symbol, amount in (amounts or HELD).items():
        net.chain.transact(erc20(net.chain, net.token(symbol)), "transfer", who, amount)


def balances(net, who: str) -> dict[str, int]:
    """``who``'s balance of every devnet token."""
    return {s: net.balance(s, who) for s in SYMBOLS}


@dataclass
class Compromised:
    """A FlashArbitrage whose V3 factory, first V2 factory and Aave pool are hostile (the real V2
    factories are its indexes 1 and 2): every hostile pool it meets passes the genuineness checks."""

    arb: Any
    factory: Any
    aave: Any

    def pool(self, net, a: str, b: str, fee: int, v3: bool) -> Any:
        """A hostile pool at the CREATE2 address the hostile factory gives (a, b, fee)."""
        receipt = net.chain.transact(self.factory, "create", net.token(a), net.token(b), fee, v3)
        (log,) = [x for x in receipt["logs"] if x["address"].lower() == self.factory.address.lower()]
        address = "0x" + bytes(log["data"])[12:32].hex()
        pool = net.chain.contract(address, own_artifact("HostilePool")["abi"])
        fund(net, pool.address, {s: 100 * v for s, v in HELD.items() if s in (a, b)})
        return pool


def compromised(net) -> Compromised:
    """Deploy :class:`Compromised` and fund it with :data:`HELD`."""
    factory = deploy(net, "HostileFactory")
    aave = hostile_pool(net, net.token("USDC"), net.token("WETH"), 5)
    fund(net, aave.address, {s: 100 * v for s, v in HELD.items()})
    code = factory.functions.initCodeHash().call()
    real = init_code_hash(V2, "UniswapV2Pair")
    address = deploy_arbitrage(net.chain, aave.address, factory.address,
                               [factory.address, net.manifest["uniswap_v2"]["factory"],
                                net.manifest["uniswap_v2_fork"]["factory"]], v3_hash=code, v2_hashes=[code, real, real])
    arb = arbitrage_contract(net.chain, address)
    fund(net, arb.address)
    return Compromised(arb, factory, aave)
