"""Pool reads equal what the pools hold in storage; swaps move prices as the math says."""

from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from contracts.pools import erc20, read_v2, read_v3, swap_v2, swap_v3, v2_pair
from contracts.reverts import Reverted
from contracts.v3math import sqrt_ratio_at_tick, v2_amount_out

pytestmark = pytest.mark.chain


def _slot(net, address: str, slot: int) -> int:
    return int.from_bytes(bytes(net.chain.w3.eth.get_storage_at(address, slot)), "big")


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


@pytest.mark.parametrize("pair", ["WETH/USDC", "USDC/DAI", "WBTC/WETH"])
def test_v2_read_equals_pair_storage_and_balances(net, pair):
    state = read_v2(net.chain, net.pool("uniswap_v2", pair))
    raw = _slot(net, state.address, 8)  # UniswapV2Pair: reserve0 | reserve1 << 112 | timestamp << 224
    assert (state.reserve0, state.reserve1, state.block_timestamp_last) == (
        raw & (2**112 - 1), raw >> 112 & (2**112 - 1), raw >> 224)
    sym = {v["address"]: k for k, v in net.manifest["tokens"].items()}
    assert state.reserve0 == net.balance(sym[state.token0], state.address)
    assert state.reserve1 == net.balance(sym[state.token1], state.address)


@pytest.mark.parametrize(("pair", "fee"), [("WETH/USDC", 500), ("USDC/DAI", 100), ("WBTC/WETH", 3000)])
def test_v3_read_equals_pool_storage(net, pair, fee):
    entry = next(p for p in net.manifest["uniswap_v3"]["pools"] if p["pair"] == pair and p["fee"] == fee)
    state = read_v3(net.chain, entry["address"], word_radius=8)
    slot0 = _slot(net, state.address, 0)  # Slot0: sqrtPriceX96 (160) | tick (int24) | ...
    assert state.sqrt_price_x96 == slot0 & (2**160 - 1)
    assert state.tick == _signed(slot0 >> 160 & (2**24 - 1), 24)
    assert state.liquidity == _slot(net, state.address, 4)
    assert sqrt_ratio_at_tick(state.tick) <= state.sqrt_price_x96 < sqrt_ratio_at_tick(state.tick + 1)
    for tick in state.ticks:  # mapping(int24 => Tick.Info) ticks at slot 5
        key = int.from_bytes(keccak(abi_encode(["int24", "uint256"], [tick.tick, 5])), "big")
        word = _slot(net, state.address, key)
        assert tick.liquidity_gross == word & (2**128 - 1)
        assert tick.liquidity_net == _signed(word >> 128, 128)
    # In-range liquidity is the sum of the deployed positions that contain the price.
    expected = sum(p["liquidity"] for p in entry["positions"] if p["tick_lower"] <= state.tick < p["tick_upper"])
    assert state.liquidity == expected
    bounds = {p[k] for p in entry["positions"][1:] for k in ("tick_lower", "tick_upper")}
    assert bounds == {t.tick for t in state.ticks}


def test_v2_amount_out_is_the_most_the_real_pair_pays(net):
    """The formula is checked against the pair's own K check, not against itself."""
    pair = net.pool("uniswap_v2", "WETH/USDC")
    before = read_v2(net.chain, pair)
    weth_in = 5 * 10**18
    weth_is_0 = before.token0 == net.token("WETH")
    r_in, r_out = (before.reserve0, before.reserve1) if weth_is_0 else (before.reserve1, before.reserve0)
    out = v2_amount_out(weth_in, r_in, r_out)
    net.chain.transact(erc20(net.chain, net.token("WETH")), "transfer", pair, weth_in)
    contract = v2_pair(net.chain, pair)
    greedy = (0, out + 1) if weth_is_0 else (out + 1, 0)
    with pytest.raises(Reverted) as info:
        net.chain.transact(contract, "swap", *greedy, net.recipient, b"")
    assert info.value.error_args == ("UniswapV2: K",)
    got = net.balance("USDC", net.recipient)
    net.chain.transact(contract, "swap", *((0, out) if weth_is_0 else (out, 0)), net.recipient, b"")
    assert net.balance("USDC", net.recipient) - got == out
    after = read_v2(net.chain, pair)
    moved = (after.reserve0, after.reserve1) if weth_is_0 else (after.reserve1, after.reserve0)
    assert moved == (r_in + weth_in, r_out - out)


def test_swap_v2_helper_pays_the_amount_it_reports(net):
    pair = net.pool("uniswap_v2", "USDC/DAI")
    got = net.balance("DAI", net.recipient)
    out = swap_v2(net.chain, pair, net.token("USDC"), 1000 * 10**6, net.recipient)
    assert out > 0 and net.balance("DAI", net.recipient) - got == out


def test_v3_swap_moves_price_exactly_to_the_limit(net):
    pool = net.pool("uniswap_v3", "WETH/USDC", 3000)
    before = read_v3(net.chain, pool)
    weth_is_0 = before.token0 == net.token("WETH")
    # Sell WETH: its price falls by about 1 % (60 ticks down if WETH is token0).
    target = sqrt_ratio_at_tick(before.tick - 100 if weth_is_0 else before.tick + 100)
    d0, d1 = swap_v3(net.chain, net.manifest["periphery"], pool, net.token("WETH"), 10**24, target)
    after = read_v3(net.chain, pool)
    assert after.sqrt_price_x96 == target
    paid, got = (d0, d1) if weth_is_0 else (d1, d0)
    assert 0 < paid < 10**24 and got < 0
