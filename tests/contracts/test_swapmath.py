"""The exact swap math equals the real pools: eth_call of DevnetPeriphery.swapV3, the V2 pair's K
check, and the state a real swap leaves (price, tick, liquidity)."""

from __future__ import annotations

import random

import pytest
from eth_abi import decode as abi_decode

from contracts.npm import own_artifact
from contracts.pools import erc20, v2_pair, v3_pool
from contracts.reverts import Reverted
from contracts.simulator.state import manifest_pools, read_market
from contracts.swapmath import libs
from contracts.swapmath.cycles import (
    Cycle,
    Hop,
    aave_premium,
    cycle_out,
    enumerate_cycles,
    optimise,
)
from contracts.swapmath.pools import V2Pool, V3Pool, apply_v3_position, v2_amount_out, v3_swap
from contracts.v3math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, sqrt_ratio_at_tick

pytestmark = pytest.mark.chain


def _periphery(net):
    return net.chain.contract(net.manifest["periphery"], own_artifact("DevnetPeriphery")["abi"])


def _chain_swap(net, pool: str, zero_for_one: bool, amount: int, limit: int | None, block: int) -> tuple[int, int]:
    """(amount0, amount1) the pool returns to an eth_call of DevnetPeriphery.swapV3 at ``block``."""
    if limit is None:
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    per = _periphery(net)
    payload = per.encode_abi("swapV3", args=[pool, zero_for_one, amount, limit, net.chain.address])
    # Gas above a block's: a swap from mid-range to the price bound of the spacing-1 pool steps
    # through thousands of bitmap words.
    tx = {"to": per.address, "data": payload, "from": net.chain.address, "gas": hex(10**9)}
    return tuple(abi_decode(["int256", "int256"], bytes.fromhex(net.chain.rpc("eth_call", [tx, hex(block)])[2:])))


def _fund(net, amount: int) -> None:
    for symbol in net.manifest["tokens"]:
        net.chain.transact(erc20(net.chain, net.token(symbol)), "mint", net.chain.address, amount)


def _v3(net, tick_radius: int | None = 30_000) -> dict[str, V3Pool]:
    state = read_market(net.chain, net.manifest, tick_radius=tick_radius)
    return {a: p for a, p in state.pools.items() if isinstance(p, V3Pool)}


def _depth(pool: V3Pool, zero_for_one: bool) -> int:
    """Virtual reserve of the input token at the current price."""
    if zero_for_one:
        return pool.liquidity * 2**96 // pool.sqrt_price_x96
    return pool.liquidity * pool.sqrt_price_x96 // 2**96


def _cases(pool: V3Pool, rng: random.Random) -> list[tuple[bool, int, int | None]]:
    cases: list[tuple[bool, int, int | None]] = []
    for zero_for_one in (True, False):
        depth = _depth(pool, zero_for_one)
        cases += [(zero_for_one, amount, None) for amount in (1, 2, 7, 999)]
        cases += [(zero_for_one, max(1, int(depth * f)), None) for f in (1e-6, 1e-3, 0.01, 0.03, 0.08, 0.3, 1.5)]
        cases += [(zero_for_one, max(1, int(depth * 10 ** rng.uniform(-9, 0.3))), None) for _ in range(6)]
        step = -1 if zero_for_one else 1
        for ticks in (1, 150, 3 * pool.tick_spacing + 1):  # limits inside the next tick, across ranges
            limit = sqrt_ratio_at_tick(pool.tick + step * ticks) + rng.randrange(-1000, 1000)
            cases.append((zero_for_one, depth, limit))
        cases += [(zero_for_one, -max(1, int(depth * f)), None) for f in (1e-7, 0.02, 0.2)]  # exact output
    return cases


def test_v3_swaps_equal_the_pools_across_ticks_limits_and_sizes(net):
    _fund(net, 10**50)
    block = net.chain.block_number()
    rng = random.Random(7)
    checked = 0
    for address, pool in _v3(net, tick_radius=None).items():
        for zero_for_one, amount, limit in _cases(pool, rng):
            expected = _chain_swap(net, address, zero_for_one, amount, limit, block)
            got = v3_swap(pool, zero_for_one, amount, limit)
            assert (got.amount0, got.amount1) == expected, (pool.fee, zero_for_one, amount, limit)
            checked += 1
    assert checked == 6 * 46


def test_v3_huge_swaps_to_the_price_bounds_equal_the_pools_with_every_tick_known(net):
    _fund(net, 10**45)
    block = net.chain.block_number()
    for address, pool in _v3(net, tick_radius=None).items():
        for zero_for_one in (True, False):
            for amount in (10**30, 10**38):
                expected = _chain_swap(net, address, zero_for_one, amount, None, block)
                got = v3_swap(pool, zero_for_one, amount)
                assert (got.amount0, got.amount1) == expected, (pool.fee, zero_for_one, amount)


def test_state_after_real_swaps_mints_and_burns_equals_the_pool(net):
    """A sequence of real swaps (crossing ticks), mints and burns, modelled step by step, leaves
    exactly the pool's price, tick, liquidity and every tick's liquidityNet."""
    _fund(net, 10**40)
    per = _periphery(net)
    pools = _v3(net)
    address = next(a for a, p in pools.items() if p.tick_spacing == 1)  # the fee-100 pool
    model = pools[address]
    rng = random.Random(3)
    for i in range(24):
        if i % 6 == 5:
            lower = (model.tick - rng.randrange(1, 400)) // model.tick_spacing * model.tick_spacing
            upper = lower + rng.randrange(1, 600) * model.tick_spacing
            liquidity = model.liquidity // 20
            net.chain.transact(per, "mintV3", address, lower, upper, liquidity)
            model = apply_v3_position(model, lower, upper, liquidity)
            if i % 12 == 11:
                net.chain.transact(v3_pool(net.chain, address), "burn", lower, upper, liquidity // 3)
                model = apply_v3_position(model, lower, upper, -(liquidity // 3))
            continue
        zero_for_one = rng.random() < 0.5
        amount = int(_depth(model, zero_for_one) * rng.uniform(0.001, 0.04))
        result = v3_swap(model, zero_for_one, amount)
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        net.chain.transact(per, "swapV3", address, zero_for_one, amount, limit, net.chain.address)
        model = V3Pool(**{**{f: getattr(model, f) for f in V3Pool.__slots__},
                          "sqrt_price_x96": result.sqrt_price_x96, "tick": result.tick,
                          "liquidity": result.liquidity})
    chain = _v3(net)[address]
    assert (model.sqrt_price_x96, model.tick, model.liquidity) == (chain.sqrt_price_x96, chain.tick, chain.liquidity)
    assert model.ticks == chain.ticks
    assert model.net == chain.net and model.gross == chain.gross


@pytest.mark.parametrize("fraction", [0, 1e-12, 1e-4, 0.05, 3.0])
def test_v2_amount_out_is_exactly_the_most_the_pair_pays(net, fraction):
    _fund(net, 10**40)
    meta = next(m for m in manifest_pools(net.manifest) if m.venue == "uniswap_v2_fork")
    pair = read_market(net.chain, net.manifest, pools=[meta]).pools[meta.address]
    assert isinstance(pair, V2Pool)
    amount_in = max(1, int(pair.reserve1 * fraction))
    out = v2_amount_out(amount_in, pair.reserve1, pair.reserve0)
    net.chain.transact(erc20(net.chain, pair.token1), "transfer", pair.address, amount_in)
    contract = v2_pair(net.chain, pair.address)
    if out + 1 < pair.reserve0:
        with pytest.raises(Reverted):
            net.chain.transact(contract, "swap", out + 1, 0, net.recipient, b"")
    if out == 0:
        with pytest.raises(Reverted):  # INSUFFICIENT_OUTPUT_AMOUNT
            net.chain.transact(contract, "swap", 0, 0, net.recipient, b"")
        return
    net.chain.transact(contract, "swap", out, 0, net.recipient, b"")
    after = read_market(net.chain, net.manifest, pools=[meta]).pools[meta.address]
    assert (after.reserve0, after.reserve1) == (pair.reserve0 - out, pair.reserve1 + amount_in)


def test_tick_at_sqrt_ratio_is_the_greatest_tick_at_or_below_the_price():
    rng = random.Random(5)
    for tick in [-887272, -887271, -1, 0, 1, 887271, *(rng.randrange(-887272, 887272) for _ in range(200))]:
        ratio = sqrt_ratio_at_tick(tick)
        assert libs.tick_at_sqrt_ratio(ratio) == tick
        if tick < 887271:
            assert libs.tick_at_sqrt_ratio(sqrt_ratio_at_tick(tick + 1) - 1) == tick
    with pytest.raises(libs.SwapReverted):
        libs.tick_at_sqrt_ratio(MAX_SQRT_RATIO)


def test_full_math_rounds_and_reverts_as_solidity():
    assert libs.mul_div(7, 3, 2) == 10 and libs.mul_div_rounding_up(7, 3, 2) == 11
    assert libs.mul_div_rounding_up(4, 3, 2) == 6
    with pytest.raises(libs.SwapReverted):
        libs.mul_div(2**255, 4, 1)
    with pytest.raises(libs.SwapReverted):
        libs.mul_div_rounding_up(2**256 - 1, 2**256 - 1, 2**256 - 2)


def test_every_devnet_cycle_is_enumerated_once_and_closed(devnet):
    metas = manifest_pools(devnet.manifest)
    cycles = enumerate_cycles([V2Pool(m.address, m.token0, m.token1, 0, 0) for m in metas])
    # 2 hops: 12 pairs of pools on one token pair, 2 directions, 2 start tokens; 3 hops: 40
    # triangles of pools (WETH-USDC-DAI 4*2*3, WBTC-WETH-USDC 2*4*2), 2 directions, 3 starts.
    assert len(cycles) == 12 * 4 + 40 * 6 == len(set(cycles))
    for cycle in cycles:
        assert len(set(cycle.pools)) == len(cycle.hops)
        assert all(a.token_out == b.token_in for a, b in zip(cycle.hops, cycle.hops[1:] + cycle.hops[:1], strict=True))


@pytest.mark.parametrize("premium_bps", [None, 5, 900, 4000])
def test_optimise_finds_the_best_integer_input_of_a_small_cycle_by_brute_force(premium_bps):
    a, b = "0x" + "11" * 20, "0x" + "22" * 20
    pools = {"p": V2Pool("p", a, b, 40_000, 90_000), "q": V2Pool("q", a, b, 60_000, 100_000)}
    cycle = Cycle((Hop("p", a, b), Hop("q", b, a)))  # a is dear in p (2.25 b), cheap in q (1.67 b)
    fee = None if premium_bps is None else (lambda x: aave_premium(x, premium_bps))
    best = optimise(pools, cycle, fee)
    profits = {x: cycle_out(pools, cycle, x) - x - (fee(x) if fee else 0) for x in range(1, 60_000)}
    top = max(profits.values())
    assert (top > 0) == (premium_bps != 4000)
    if top <= 0:
        assert best is None
    else:
        assert best is not None and best.profit == top and profits[best.amount_in] == top
