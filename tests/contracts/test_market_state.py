"""The simulator's market read goes through the batched bootstrap: every pool at one block, V3
ticks over the bitmap words covering the tick radius, V2 supply and the Aave premium beside it."""

from __future__ import annotations

import copy
import random

import pytest
from eth_utils import keccak, to_checksum_address

from contracts.events import registry_from_manifest
from contracts.pools import erc20, swap_v2, v2_pair
from contracts.simulator.state import TICK_RADIUS, manifest_pools, read_market, word_radius
from contracts.snapshot import PoolReadError, eth_calls, selector, snapshot_pools, word_range
from contracts.swapmath.pools import V2Pool, V3Pool
from contracts.v3math import MAX_TICK, MIN_TICK


def test_selector_is_the_first_four_bytes_of_the_signatures_hash():
    assert selector("transfer(address,uint256)") == bytes.fromhex("a9059cbb")
    assert selector("getReserves()") == keccak(text="getReserves()")[:4]


def test_word_radius_covers_the_tick_radius_whatever_the_tick():
    rng = random.Random(4)
    for _ in range(20_000):
        spacing, radius = rng.choice((1, 10, 60, 200)), rng.choice((0, 1, 255, 256, TICK_RADIUS, rng.randrange(10**5)))
        tick = rng.randrange(MIN_TICK, MAX_TICK)
        read = word_range(tick, spacing, word_radius(radius, spacing))
        usable = word_range(tick, spacing, word_radius(None, spacing))
        wanted = range(((tick - radius) // spacing) >> 8, (((tick + radius) // spacing) >> 8) + 1)
        assert set(wanted) & set(usable) <= set(read), (spacing, radius, tick)
        assert len(read) <= len(wanted) + 2  # no more than a word beyond each side
    assert word_range(0, 1, word_radius(None, 1)) == range(-3466, 3466)


@pytest.mark.chain
def test_the_market_knows_every_initialized_tick_of_its_words_and_v2_supply(net):
    block = net.chain.block_number()
    near = read_market(net.chain, net.manifest, block)
    full = read_market(net.chain, net.manifest, block, tick_radius=None)
    assert (near.block, near.premium_bps) == (full.block, full.premium_bps) and near.premium_bps > 0
    assert list(near.pools) == [m.address for m in manifest_pools(net.manifest)]
    for address, pool in near.pools.items():
        whole = full.pools[address]
        if isinstance(pool, V2Pool):
            assert pool == whole
            assert pool.total_supply == v2_pair(net.chain, address).functions.totalSupply().call() > 0
            continue
        assert isinstance(pool, V3Pool) and isinstance(whole, V3Pool)
        spacing = pool.tick_spacing
        assert pool.word_lo <= ((pool.tick - TICK_RADIUS) // spacing) >> 8
        assert pool.word_hi >= ((pool.tick + TICK_RADIUS) // spacing) >> 8
        known = [t for t in whole.ticks if pool.word_lo <= (t // spacing) >> 8 <= pool.word_hi]
        assert pool.ticks == tuple(known) and len(known) < len(whole.ticks)
        assert pool.net == {t: whole.net[t] for t in known} and pool.gross == {t: whole.gross[t] for t in known}
        assert (pool.sqrt_price_x96, pool.tick, pool.liquidity) == (whole.sqrt_price_x96, whole.tick, whole.liquidity)


@pytest.mark.chain
def test_word_radii_give_chosen_pools_their_own_word_span(net):
    registry = registry_from_manifest(net.manifest)
    v3 = [a for a, info in registry.items() if info.tick_spacing]
    block = net.chain.block_number()
    snap = snapshot_pools(net.chain, registry, block, word_radius=2, word_radii={v3[0]: 0})
    alone = snapshot_pools(net.chain, {v3[0]: registry[v3[0]]}, block, word_radius=0)
    wide = snapshot_pools(net.chain, {v3[1]: registry[v3[1]]}, block, word_radius=2)
    assert snap.failed == {} and snap.states[v3[0]] == alone.states[v3[0]]
    assert snap.states[v3[1]] == wide.states[v3[1]]
    assert snap.states[v3[0]] != snapshot_pools(net.chain, {v3[0]: registry[v3[0]]}, block, word_radius=2).states[v3[0]]


@pytest.mark.chain
def test_eth_calls_read_the_pinned_block_and_fail_each_call_alone(net):
    pair = net.pool("uniswap_v2", "WETH/USDC")
    nobody = to_checksum_address(keccak(b"market state test: no code here")[12:])
    block = net.chain.block_number()
    head = snapshot_pools(net.chain, {pair: registry_from_manifest(net.manifest)[pair]}, block).head
    assert head is not None
    before = eth_calls(net.chain, [(pair, selector("getReserves()"))], block)
    swap_v2(net.chain, pair, net.token("USDC"), 1000 * 10**6)
    answers = eth_calls(net.chain, [(pair, selector("getReserves()")), (nobody, selector("totalSupply()"))],
                        block, block_hash=head.hash)
    assert answers[0] == before[0] and isinstance(answers[0], bytes) and len(answers[0]) == 96
    assert isinstance(answers[1], PoolReadError) and answers[1].kind == "no_code"


@pytest.mark.chain
def test_a_pool_that_cannot_be_read_fails_the_market_read_with_its_kind(net):
    manifest = copy.deepcopy(net.manifest)
    pairs = manifest["uniswap_v2"]["pairs"]
    token = erc20(net.chain, pairs[0]["token0"]).address  # a contract, but not a pair: getReserves reverts
    pairs.append({**pairs[0], "address": token})
    with pytest.raises(PoolReadError) as err:
        read_market(net.chain, manifest)
    assert err.value.kind in ("reverted", "rpc_error") and token in str(err.value)
