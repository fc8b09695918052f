"""Deploy the devnet market: test tokens, Uniswap V2 and V3 pools, Aave V3, FlashArbitrage.

Everything but the tokens, :file:`DevnetPeriphery` and FlashArbitrage is the genuine bytecode of
the npm packages (see :mod:`contracts.npm`). :func:`deploy_market` returns the manifest: a
JSON-ready dict of every address, token, pool and the chain id.

Prices (USD): WETH 3000, WBTC 60000, USDC 1, DAI 1. The V2 WETH/USDC pair starts 1 % rich
(WETH at 3030 USDC) so an arbitrage exists from the first block.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from alphapulse.errors import ChainError
from contracts import aave
from contracts.client import Chain
from contracts.npm import V2, V3, npm_artifact, own_artifact
from contracts.v3math import MAX_TICK, MIN_TICK, sqrt_price_x96, tick_at_price

#: (symbol, decimals, USD price) of each test token.
TOKENS: tuple[tuple[str, int, int], ...] = (
    ("WETH", 18, 3000), ("USDC", 6, 1), ("DAI", 18, 1), ("WBTC", 8, 60000),
)
#: Uniswap V2 pairs: (symbol a, symbol b, USD value of each side, price skew of a in b).
V2_PAIRS: tuple[tuple[str, str, int, Fraction], ...] = (
    ("WETH", "USDC", 3_000_000, Fraction(101, 100)),
    ("WETH", "DAI", 3_000_000, Fraction(1)),
    ("USDC", "DAI", 2_000_000, Fraction(1)),
    ("WBTC", "WETH", 3_000_000, Fraction(1)),
    ("WBTC", "USDC", 3_000_000, Fraction(1)),
)
#: A second V2 deployment (same bytecode, another factory, as a fork such as SushiSwap would be):
#: a V2 factory allows one pair per token pair, so V2-to-V2 routes need a second factory.
V2_FORK_PAIRS: tuple[tuple[str, str, int, Fraction], ...] = (
    ("WETH", "USDC", 2_000_000, Fraction(1)),
    ("WETH", "DAI", 2_000_000, Fraction(1)),
)
#: Uniswap V3 pools: (symbol a, symbol b, fee in hundredths of a bip, USD depth of the wide range).
V3_POOLS: tuple[tuple[str, str, int, int], ...] = (
    ("WETH", "USDC", 500, 2_000_000),
    ("WETH", "USDC", 3000, 1_000_000),
    ("WETH", "DAI", 3000, 1_000_000),
    ("USDC", "DAI", 100, 1_000_000),
    ("WBTC", "WETH", 3000, 1_000_000),
    ("WBTC", "USDC", 500, 1_000_000),
)
#: Liquidity ranges of every V3 pool: (half-width in ticks or None for full range, liquidity multiple).
V3_RANGES: tuple[tuple[int | None, int], ...] = ((None, 1), (2000, 2), (200, 4))
MINT_USD = 10**9  # each token minted to the deployer, in USD
MAX_UINT = 2**256 - 1


def _price(tokens: dict[str, dict], a: str, b: str, skew: Fraction = Fraction(1)) -> Fraction:
    """Raw-unit price of ``a`` in ``b`` (units of b per unit of a)."""
    ta, tb = tokens[a], tokens[b]
    return Fraction(ta["usd"], tb["usd"]) * skew * Fraction(10 ** tb["decimals"], 10 ** ta["decimals"])


def deploy_tokens(chain: Chain) -> dict[str, dict[str, Any]]:
    """Deploy and mint the test tokens to the deployer; returns ``{symbol: {...}}``."""
    art = own_artifact("TestERC20")
    tokens = {}
    for symbol, decimals, usd in TOKENS:
        address = chain.deploy(art["abi"], art["bytecode"], f"Devnet {symbol}", symbol, decimals)
        token = chain.contract(address, art["abi"])
        chain.transact(token, "mint", chain.address, MINT_USD * 10**decimals // usd)
        tokens[symbol] = {"address": address, "decimals": decimals, "usd": usd}
    return tokens


def deploy_v2(chain: Chain, tokens: dict[str, dict], specs: tuple = V2_PAIRS) -> dict[str, Any]:
    """Deploy a Uniswap V2 factory and the pairs of ``specs`` with their liquidity."""
    fac_art, pair_art, erc = npm_artifact(V2, "UniswapV2Factory"), npm_artifact(V2, "UniswapV2Pair"), own_artifact("TestERC20")
    factory = chain.contract(chain.deploy(fac_art["abi"], fac_art["bytecode"], chain.address), fac_art["abi"])
    pairs = []
    for a, b, usd, skew in specs:
        chain.transact(factory, "createPair", tokens[a]["address"], tokens[b]["address"])
        pair = chain.contract(factory.functions.getPair(tokens[a]["address"], tokens[b]["address"]).call(), pair_art["abi"])
        if pair.address != v2_pair_address(factory.address, tokens[a]["address"], tokens[b]["address"]):
            raise ChainError(f"V2 pair {pair.address} is not at its CREATE2 address: init-code hash mismatch")
        amount_a = usd * 10 ** tokens[a]["decimals"] // tokens[a]["usd"]
        amount_b = int(amount_a * _price(tokens, a, b, skew))
        for symbol, amount in ((a, amount_a), (b, amount_b)):
            chain.transact(chain.contract(tokens[symbol]["address"], erc["abi"]), "transfer", pair.address, amount)
        chain.transact(pair, "mint", chain.address)
        token0 = pair.functions.token0().call()
        pairs.append({"kind": "v2", "address": pair.address, "pair": f"{a}/{b}", "fee_bps": 30,
                      "token0": token0, "token1": pair.functions.token1().call()})
    return {"factory": factory.address, "pairs": pairs}


def deploy_v3(chain: Chain, tokens: dict[str, dict], periphery: Any) -> dict[str, Any]:
    """Deploy the Uniswap V3 factory and :data:`V3_POOLS`, each with liquidity in :data:`V3_RANGES`."""
    fac_art, pool_art = npm_artifact(V3, "UniswapV3Factory"), npm_artifact(V3, "UniswapV3Pool")
    factory = chain.contract(chain.deploy(fac_art["abi"], fac_art["bytecode"]), fac_art["abi"])
    chain.transact(factory, "enableFeeAmount", 100, 1)  # the 0.01 % tier Uniswap added by governance
    by_symbol = {tokens[s]["address"]: s for s in tokens}
    pools = []
    for a, b, fee, usd in V3_POOLS:
        chain.transact(factory, "createPool", tokens[a]["address"], tokens[b]["address"], fee)
        pool = chain.contract(factory.functions.getPool(tokens[a]["address"], tokens[b]["address"], fee).call(),
                              pool_art["abi"])
        if pool.address != v3_pool_address(factory.address, tokens[a]["address"], tokens[b]["address"], fee):
            raise ChainError(f"V3 pool {pool.address} is not at its CREATE2 address: init-code hash mismatch")
        token0, token1 = pool.functions.token0().call(), pool.functions.token1().call()
        price = _price(tokens, by_symbol[token0], by_symbol[token1])
        chain.transact(pool, "initialize", sqrt_price_x96(price))
        spacing = pool.functions.tickSpacing().call()
        tick = tick_at_price(price)
        # Full-range liquidity L holds about L * sqrt(P) of token1: size L for `usd` dollars of token1.
        amount1 = usd * 10 ** tokens[by_symbol[token1]]["decimals"] // tokens[by_symbol[token1]]["usd"]
        base = int(Fraction(amount1) * 2**96 / sqrt_price_x96(price))
        positions = []
        for half, multiple in V3_RANGES:
            if half is None:
                lower, upper = -(-MIN_TICK // spacing) * spacing, MAX_TICK // spacing * spacing
            else:
                lower, upper = (tick - half) // spacing * spacing, -(-(tick + half) // spacing) * spacing
            chain.transact(periphery, "mintV3", pool.address, lower, upper, base * multiple)
            positions.append({"tick_lower": lower, "tick_upper": upper, "liquidity": base * multiple})
        pools.append({"kind": "v3", "address": pool.address, "pair": f"{a}/{b}", "fee": fee,
                      "tick_spacing": spacing, "token0": token0, "token1": token1, "positions": positions})
    return {"factory": factory.address, "pools": pools}


def init_code_hash(package: str, name: str) -> bytes:
    """keccak256 of a contract's creation code: what CREATE2 addresses of its factory depend on."""
    return keccak(hexstr=npm_artifact(package, name)["bytecode"])


def create2_address(deployer: str, salt: bytes, code_hash: bytes) -> str:
    """The address CREATE2 gives code with ``code_hash`` deployed by ``deployer`` with ``salt``."""
    return to_checksum_address(keccak(b"\xff" + bytes.fromhex(deployer[2:]) + salt + code_hash)[12:])


def v2_pair_address(factory: str, a: str, b: str, code_hash: bytes | None = None) -> str:
    """UniswapV2Library.pairFor: the pair of tokens ``a`` and ``b`` created by ``factory``."""
    t0, t1 = sorted((a, b), key=lambda t: int(t, 16))
    salt = keccak(bytes.fromhex(t0[2:]) + bytes.fromhex(t1[2:]))
    return create2_address(factory, salt, code_hash or init_code_hash(V2, "UniswapV2Pair"))


def v3_pool_address(factory: str, a: str, b: str, fee: int, code_hash: bytes | None = None) -> str:
    """PoolAddress.computeAddress: the (a, b, fee) pool created by the V3 ``factory``."""
    t0, t1 = sorted((a, b), key=lambda t: int(t, 16))
    salt = keccak(abi_encode(["address", "address", "uint24"], [t0, t1, fee]))
    return create2_address(factory, salt, code_hash or init_code_hash(V3, "UniswapV3Pool"))


def deploy_arbitrage(chain: Chain, aave_pool: str, v3_factory: str, v2_factories: list[str],
                     v3_hash: bytes | None = None, v2_hashes: list[bytes] | None = None) -> str:
    """Deploy FlashArbitrage trusting these lenders' and pools' factories; returns its address.

    The init-code hashes default to those of the pinned npm packages' UniswapV2Pair and UniswapV3Pool.
    """
    art = own_artifact("FlashArbitrage")
    v2_hashes = v2_hashes if v2_hashes is not None else [init_code_hash(V2, "UniswapV2Pair")] * len(v2_factories)
    return chain.deploy(art["abi"], art["bytecode"], aave_pool, v3_factory,
                        v3_hash or init_code_hash(V3, "UniswapV3Pool"), v2_factories, v2_hashes)


def deploy_market(chain: Chain) -> dict[str, Any]:
    """Deploy the whole devnet market; returns the manifest dict."""
    tokens = deploy_tokens(chain)
    erc = own_artifact("TestERC20")
    per_art = own_artifact("DevnetPeriphery")
    periphery = chain.contract(chain.deploy(per_art["abi"], per_art["bytecode"]), per_art["abi"])
    for token in tokens.values():
        chain.transact(chain.contract(token["address"], erc["abi"]), "approve", periphery.address, MAX_UINT)
    v2 = deploy_v2(chain, tokens)
    v2_fork = deploy_v2(chain, tokens, V2_FORK_PAIRS)
    v3 = deploy_v3(chain, tokens, periphery)
    lending = aave.deploy_aave(chain, tokens)
    arb = deploy_arbitrage(chain, lending["pool"], v3["factory"], [v2["factory"], v2_fork["factory"]])
    return {
        "chain_id": chain.chain_id,
        "rpc_url": chain.url,
        "deployer": chain.address,
        "tokens": tokens,
        "uniswap_v2": v2,
        "uniswap_v2_fork": v2_fork,
        "uniswap_v3": v3,
        "aave_v3": lending,
        "periphery": periphery.address,
        "flash_arbitrage": arb,
    }
