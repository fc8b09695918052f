"""Pools created while the collector runs are found from the factories' logs and followed exactly."""

from __future__ import annotations

from fractions import Fraction

from contracts.anvil import mine, set_automine
from contracts.events import registry_from_manifest
from contracts.factories import factories_from_manifest
from contracts.npm import V2, V3, npm_artifact, own_artifact
from contracts.v3math import sqrt_price_x96
from nodes.collector_evm.follower import ChainFollower
from tests.nodes.collector_evm.activity import GAS, Activity
from tests.nodes.collector_evm.chainstate import ALL_WORDS, mismatches
from tests.nodes.collector_evm.recorder import Recorder


def test_pools_created_later_are_bootstrapped_and_followed(net):
    rec = Recorder()
    follower = ChainFollower(net.chain, registry_from_manifest(net.manifest), factories_from_manifest(net.manifest),
                             rec.sink, rec.count, word_radius=ALL_WORDS)
    follower.start()
    known = set(follower.registry)
    chain, usdc, dai = net.chain, net.token("USDC"), net.token("DAI")
    v3 = chain.contract(net.manifest["uniswap_v3"]["factory"], npm_artifact(V3, "UniswapV3Factory")["abi"])
    v2 = chain.contract(net.manifest["uniswap_v2_fork"]["factory"], npm_artifact(V2, "UniswapV2Factory")["abi"])
    erc = own_artifact("TestERC20")["abi"]
    # Created, initialized and given liquidity in the same block: the snapshot after it holds it all.
    set_automine(chain, False)
    try:
        fees = chain.fees()
        for to, data in [(v3.address, v3.encode_abi("createPool", args=[usdc, dai, 500])),
                         (v2.address, v2.encode_abi("createPair", args=[usdc, dai]))]:
            chain.send_raw(chain.sign(to, data, gas=GAS * 4, fees=fees))
        mine(chain)
    finally:
        set_automine(chain, True)
    pool = v3.functions.getPool(usdc, dai, 500).call()
    pair = v2.functions.getPair(usdc, dai).call()
    follower.catch_up()
    assert {pool, pair} <= set(follower.registry) - known
    # Then initialized, funded and traded in later blocks: followed log by log.
    v3_pool = chain.contract(pool, npm_artifact(V3, "UniswapV3Pool")["abi"])
    token0 = v3_pool.functions.token0().call()
    scale = Fraction(10**18, 10**6) if token0 == usdc else Fraction(10**6, 10**18)
    chain.transact(v3_pool, "initialize", sqrt_price_x96(scale))
    tick = v3_pool.functions.slot0().call()[1]
    periphery = chain.contract(net.manifest["periphery"], own_artifact("DevnetPeriphery")["abi"])
    chain.transact(periphery, "mintV3", pool, (tick - 1000) // 10 * 10, (tick + 1000) // 10 * 10, 10**15)
    for token, amount in ((usdc, 10**12), (dai, 10**24)):
        chain.transact(chain.contract(token, erc), "transfer", pair, amount)
    chain.transact(chain.contract(pair, npm_artifact(V2, "UniswapV2Pair")["abi"]), "mint", chain.address)
    manifest = dict(net.manifest)
    manifest["uniswap_v2_fork"] = {**manifest["uniswap_v2_fork"],
                                   "pairs": [*manifest["uniswap_v2_fork"]["pairs"],
                                             {"kind": "v2", "address": pair, "fee_bps": 30,
                                              "token0": min(usdc, dai, key=str.lower),
                                              "token1": max(usdc, dai, key=str.lower)}]}
    activity = Activity(chain, manifest, seed=81)
    activity.v3.append({"address": pool, "token0": token0, "token1": dai if token0 == usdc else usdc,
                        "tick_spacing": 10})
    for _ in range(4):
        activity.burst(5)
    follower.catch_up()
    assert mismatches(chain, rec.replica, follower.registry, rec.replica.block) == []
    assert rec.errors == []
