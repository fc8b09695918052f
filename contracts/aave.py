"""Deploy a genuine Aave V3 market (``@aave/core-v3`` 1.19.3 bytecode) on the devnet.

Order follows the protocol's own deployment (aave-v3-deploy): addresses provider, ACL admin and
ACL manager, the logic libraries, the Pool implementation (the provider creates the proxy and
initializes it), the PoolConfigurator, an AaveOracle fed by Chainlink-style MockAggregators, the
token implementations, an interest-rate strategy, ``initReserves``, flash loans enabled, the
flash-loan premium set, and reserves funded with ``supply``.
"""

from __future__ import annotations

from typing import Any

from contracts.client import Chain
from contracts.npm import AAVE, libraries_of, link, npm_artifact, own_artifact

#: Aave V3 Ethereum's flash-loan premium: 0.05 % (5 bps), all to suppliers (none to the protocol).
FLASHLOAN_PREMIUM_BPS = 5
#: Reserve funding per token, in USD.
SUPPLY_USD = 20_000_000
RAY = 10**27
_LIBRARIES = ("BorrowLogic", "BridgeLogic", "EModeLogic", "LiquidationLogic", "PoolLogic",
              "SupplyLogic", "FlashLoanLogic", "ConfiguratorLogic")


def _deploy(chain: Chain, name: str, *args: Any, libraries: dict[str, str] | None = None) -> Any:
    art = npm_artifact(AAVE, name)
    code = link(art, libraries or {}) if libraries_of(art) else art["bytecode"]
    return chain.contract(chain.deploy(art["abi"], code, *args), art["abi"])


def deploy_aave(chain: Chain, tokens: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Deploy Aave V3 with one funded reserve per token; returns the manifest section."""
    me = chain.address
    provider = _deploy(chain, "PoolAddressesProvider", "AlphaPulse Devnet", me)
    chain.transact(provider, "setACLAdmin", me)
    acl = _deploy(chain, "ACLManager", provider.address)
    chain.transact(provider, "setACLManager", acl.address)
    chain.transact(acl, "addPoolAdmin", me)

    libs: dict[str, str] = {}
    for name in _LIBRARIES:  # FlashLoanLogic links BorrowLogic, which is deployed before it
        libs[name] = _deploy(chain, name, libraries=libs).address
    pool_impl = _deploy(chain, "Pool", provider.address, libraries=libs)
    chain.transact(provider, "setPoolImpl", pool_impl.address)
    pool = chain.contract(provider.functions.getPool().call(), npm_artifact(AAVE, "Pool")["abi"])
    conf_impl = _deploy(chain, "PoolConfigurator", libraries=libs)
    chain.transact(provider, "setPoolConfiguratorImpl", conf_impl.address)
    configurator = chain.contract(provider.functions.getPoolConfigurator().call(),
                                  npm_artifact(AAVE, "PoolConfigurator")["abi"])

    symbols = list(tokens)
    feeds = [_deploy(chain, "MockAggregator", tokens[s]["usd"] * 10**8).address for s in symbols]
    oracle = _deploy(chain, "AaveOracle", provider.address, [tokens[s]["address"] for s in symbols],
                     feeds, "0x" + "00" * 20, "0x" + "00" * 20, 10**8)
    chain.transact(provider, "setPriceOracle", oracle.address)
    data_provider = _deploy(chain, "AaveProtocolDataProvider", provider.address)
    chain.transact(provider, "setPoolDataProvider", data_provider.address)

    a_impl = _deploy(chain, "AToken", pool.address)
    stable_impl = _deploy(chain, "StableDebtToken", pool.address)
    variable_impl = _deploy(chain, "VariableDebtToken", pool.address)
    strategy = _deploy(chain, "DefaultReserveInterestRateStrategy", provider.address,
                       RAY * 80 // 100, 0, RAY * 4 // 100, RAY * 60 // 100, RAY * 2 // 100,
                       RAY * 60 // 100, RAY * 2 // 100, RAY * 5 // 100, RAY * 20 // 100)
    inputs = [(a_impl.address, stable_impl.address, variable_impl.address, tokens[s]["decimals"],
               strategy.address, tokens[s]["address"], me, "0x" + "00" * 20,
               f"Aave Devnet {s}", f"aDev{s}", f"Aave Devnet Variable Debt {s}", f"variableDebtDev{s}",
               f"Aave Devnet Stable Debt {s}", f"stableDebtDev{s}", b"") for s in symbols]
    chain.transact(configurator, "initReserves", inputs)
    chain.transact(configurator, "updateFlashloanPremiumTotal", FLASHLOAN_PREMIUM_BPS)

    erc = own_artifact("TestERC20")
    reserves = {}
    for s in symbols:
        asset = tokens[s]["address"]
        chain.transact(configurator, "setReserveFlashLoaning", asset, True)
        amount = SUPPLY_USD * 10 ** tokens[s]["decimals"] // tokens[s]["usd"]
        chain.transact(chain.contract(asset, erc["abi"]), "approve", pool.address, amount)
        chain.transact(pool, "supply", asset, amount, me, 0)
        a_token = pool.functions.getReserveData(asset).call()[8]
        reserves[s] = {"asset": asset, "a_token": a_token, "supplied": amount}
    return {
        "pool": pool.address,
        "pool_implementation": pool_impl.address,
        "addresses_provider": provider.address,
        "pool_configurator": configurator.address,
        "acl_manager": acl.address,
        "oracle": oracle.address,
        "data_provider": data_provider.address,
        "interest_rate_strategy": strategy.address,
        "libraries": libs,
        "flashloan_premium_bps": pool.functions.FLASHLOAN_PREMIUM_TOTAL().call(),
        "reserves": reserves,
    }
