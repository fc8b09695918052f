"""Uniswap logs decode to exactly what the chain holds; anything malformed raises BadLog by kind."""

from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.events import (
    BAD_LOG_KINDS,
    TOPICS,
    V2_BURN,
    V2_MINT,
    V2_SWAP,
    V2_SYNC,
    V3_BURN,
    V3_INITIALIZE,
    V3_MINT,
    V3_SWAP,
    BadLog,
    PoolInfo,
    decode_log,
    registry_from_manifest,
)
from contracts.logs import LogFilter, get_logs
from contracts.npm import V2, V3, npm_artifact, own_artifact
from contracts.pools import erc20, read_v2, read_v3, swap_v2, swap_v3, v2_pair, v3_pool
from contracts.v3math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick
from mesh.protocol.constants import PoolKind, VenueId
from mesh.protocol.messages.market import PoolBurn, PoolMint, PoolState, PoolSwap, PoolSync

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

T0, T1 = bytes.fromhex("11" * 20), bytes.fromhex("22" * 20)
V2_POOL = to_checksum_address("0x" + "aa" * 20)
V3_POOL = to_checksum_address("0x" + "bb" * 20)
REGISTRY = {
    V2_POOL: PoolInfo(PoolKind.UNISWAP_V2, T0, T1, 18, 6, 30),
    V3_POOL: PoolInfo(PoolKind.UNISWAP_V3, T0, T1, 8, 18, 3000, 60),
}
TS = 1_700_000_000 * 10**9


def _word(value: int, signed: bool = False) -> bytes:
    return value.to_bytes(32, "big", signed=signed)


def _addr_topic(address: bytes) -> bytes:
    return bytes(12) + address


def _log(address: str, topics: list[bytes], data: bytes, **extra) -> dict:
    log = {"address": address, "topics": topics, "data": data, "blockNumber": 7, "blockHash": b"\x01" * 32,
           "transactionHash": b"\x02" * 32, "transactionIndex": 0, "logIndex": 3, "removed": False}
    log.update(extra)
    return log


def _v3_swap_log(a0: int, a1: int, sqrt: int, liq: int, tick: int) -> dict:
    data = abi_encode(["int256", "int256", "uint160", "uint128", "int24"], [a0, a1, sqrt, liq, tick])
    return _log(V3_POOL, [V3_SWAP, _addr_topic(T0), _addr_topic(T1)], data)


# --- topic constants against the real ABIs ---------------------------------------------------------

def _abi_topics(package: str, name: str) -> dict[str, bytes]:
    return {e["name"]: keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})")
            for e in npm_artifact(package, name)["abi"] if e["type"] == "event"}


def test_topic0_constants_equal_the_devnet_pool_abis():
    v2, v3 = _abi_topics(V2, "UniswapV2Pair"), _abi_topics(V3, "UniswapV3Pool")
    for (kind, name), topic in TOPICS.items():
        assert topic == (v2 if kind == PoolKind.UNISWAP_V2 else v3)[name], name
    assert len(set(TOPICS.values())) == len(TOPICS)


# --- against the devnet ---------------------------------------------------------------------------

def _decode_block(net, pool: str, block: int, registry=None) -> list:
    """Decode every pool event of ``pool`` in ``block``, fetched with get_logs."""
    registry = registry or registry_from_manifest(net.manifest)
    kind = registry[pool].kind
    topics = [t for (k, _), t in TOPICS.items() if k == kind]
    logs = get_logs(net.chain.rpc, block, block, LogFilter.of([pool], [topics]))
    head = net.chain.rpc("eth_getBlockByNumber", [hex(block), False])
    ts = int(head["timestamp"], 16) * 10**9
    decoded = [decode_log(log, registry, ts) for log in logs]
    assert all(d.block_number == block and d.pool == pool for d in decoded)
    assert all(d.message.timestamp_ns == ts for d in decoded)
    return [d.message for d in decoded]


def _addr(address: str) -> bytes:
    return bytes.fromhex(address[2:])


@pytest.mark.chain
@pytest.mark.parametrize("symbol_in", ["USDC", "WETH"])
def test_v2_swap_decodes_to_the_reserves_and_amounts_the_chain_holds(net, symbol_in):
    pool = net.pool("uniswap_v2", "WETH/USDC")
    amount_in = 5_000 * 10**6 if symbol_in == "USDC" else 2 * 10**18
    out = swap_v2(net.chain, pool, net.token(symbol_in), amount_in)
    sync, swap = _decode_block(net, pool, net.chain.block_number())
    state = read_v2(net.chain, pool)
    assert isinstance(sync, PoolSync) and (sync.reserve0, sync.reserve1) == (state.reserve0, state.reserve1)
    assert sync.token0_addr == _addr(state.token0) and sync.pool_address == _addr(pool)
    assert isinstance(swap, PoolSwap)
    assert (swap.amount_in, swap.amount_out, swap.token_in_addr) == (amount_in, out, _addr(net.token(symbol_in)))
    assert swap.venue == VenueId.UNISWAP_V2 and swap.sqrt_price_x96_after == 0


@pytest.mark.chain
def test_v2_mint_and_burn_decode_to_the_amounts_moved(net):
    pool = net.pool("uniswap_v2", "WETH/DAI")
    state = read_v2(net.chain, pool)
    pair = v2_pair(net.chain, pool)
    a0, a1 = state.reserve0 // 100, state.reserve1 // 100
    for token, amount in ((state.token0, a0), (state.token1, a1)):
        net.chain.transact(erc20(net.chain, token), "transfer", pool, amount)
    net.chain.transact(pair, "mint", net.chain.address)
    sync, mint = _decode_block(net, pool, net.chain.block_number())
    after = read_v2(net.chain, pool)
    assert (sync.reserve0, sync.reserve1) == (after.reserve0, after.reserve1)
    assert isinstance(mint, PoolMint) and (mint.amount0, mint.amount1) == (a0, a1)
    assert mint.provider_addr == _addr(net.chain.address) and mint.liquidity_delta == 0

    lp = pair.functions.balanceOf(net.chain.address).call() // 3
    before = [erc20(net.chain, t).functions.balanceOf(net.recipient).call() for t in (state.token0, state.token1)]
    net.chain.transact(pair, "transfer", pool, lp)
    net.chain.transact(pair, "burn", net.recipient)
    sync, burn = _decode_block(net, pool, net.chain.block_number())
    got = [erc20(net.chain, t).functions.balanceOf(net.recipient).call() - b
           for t, b in zip((state.token0, state.token1), before, strict=True)]
    assert isinstance(burn, PoolBurn) and [burn.amount0, burn.amount1] == got
    final = read_v2(net.chain, pool)
    assert (sync.reserve0, sync.reserve1) == (final.reserve0, final.reserve1)


@pytest.mark.chain
@pytest.mark.parametrize(("symbol_in", "usd"), [("WETH", 1_000), ("USDC", 1_000), ("WETH", 900_000),
                                                ("USDC", 900_000)])
def test_v3_swap_decodes_to_slot0_liquidity_and_the_amounts_moved(net, symbol_in, usd):
    """Small swaps stay in range; the large ones cross the ±200-tick position's boundary."""
    pool = net.pool("uniswap_v3", "WETH/USDC", 500)
    token = net.manifest["tokens"][symbol_in]
    before = read_v3(net.chain, pool)
    d0, d1 = swap_v3(net.chain, net.manifest["periphery"], pool, token["address"],
                     usd * 10 ** token["decimals"] // token["usd"])
    (swap,) = _decode_block(net, pool, net.chain.block_number())
    state = read_v3(net.chain, pool)
    assert isinstance(swap, PoolSwap)
    assert (swap.sqrt_price_x96_after, swap.tick_after, swap.liquidity_after) == (
        state.sqrt_price_x96, state.tick, state.liquidity)
    zero_in = token["address"] == state.token0
    assert (swap.amount_in, swap.amount_out) == ((d0, -d1) if zero_in else (d1, -d0))
    assert swap.token_in_addr == _addr(token["address"])
    if usd > 100_000:
        assert state.liquidity != before.liquidity  # a position's boundary was crossed


@pytest.mark.chain
def test_v3_mint_and_burn_decode_to_the_range_liquidity_and_amounts(net):
    entry = next(p for p in net.manifest["uniswap_v3"]["pools"] if p["pair"] == "WETH/DAI")
    pool, spacing = entry["address"], entry["tick_spacing"]
    tick = read_v3(net.chain, pool).tick
    lower, upper, liquidity = (tick // spacing - 5) * spacing, (tick // spacing + 7) * spacing, 10**18
    per = net.chain.contract(net.manifest["periphery"], own_artifact("DevnetPeriphery")["abi"])
    owed = per.functions.mintV3(pool, lower, upper, liquidity).call({"from": net.chain.address})
    net.chain.transact(per, "mintV3", pool, lower, upper, liquidity)
    (mint,) = _decode_block(net, pool, net.chain.block_number())
    assert isinstance(mint, PoolMint)
    assert (mint.tick_lower, mint.tick_upper, mint.liquidity_delta) == (lower, upper, liquidity)
    assert [mint.amount0, mint.amount1] == list(owed) and mint.provider_addr == _addr(net.chain.address)

    contract = v3_pool(net.chain, pool)
    owed = contract.functions.burn(lower, upper, liquidity // 4).call({"from": net.chain.address})
    net.chain.transact(contract, "burn", lower, upper, liquidity // 4)
    (burn,) = _decode_block(net, pool, net.chain.block_number())
    assert isinstance(burn, PoolBurn)
    assert (burn.tick_lower, burn.tick_upper, burn.liquidity_delta) == (lower, upper, liquidity // 4)
    assert [burn.amount0, burn.amount1] == list(owed)


@pytest.mark.chain
def test_v3_initialize_decodes_to_a_pool_state_at_slot0(net):
    art = npm_artifact(V3, "UniswapV3Factory")
    factory = net.chain.contract(net.manifest["uniswap_v3"]["factory"], art["abi"])
    wbtc, dai = net.token("WBTC"), net.token("DAI")
    net.chain.transact(factory, "createPool", wbtc, dai, 3000)
    address = factory.functions.getPool(wbtc, dai, 3000).call()
    contract = v3_pool(net.chain, address)
    token0, token1 = contract.functions.token0().call(), contract.functions.token1().call()
    dec = {net.token(s): net.manifest["tokens"][s]["decimals"] for s in ("WBTC", "DAI")}
    registry = {address: PoolInfo(PoolKind.UNISWAP_V3, _addr(token0), _addr(token1), dec[token0], dec[token1],
                                  3000, 60)}
    net.chain.transact(contract, "initialize", sqrt_ratio_at_tick(-1234) + 99)
    (state,) = _decode_block(net, address, net.chain.block_number(), registry)
    sqrt, tick = contract.functions.slot0().call()[:2]
    assert isinstance(state, PoolState) and (state.sqrt_price_x96, state.tick) == (sqrt, tick) == (
        sqrt_ratio_at_tick(-1234) + 99, -1234)
    assert (state.liquidity, state.fee_rate, state.pool_type) == (0, 30, 1)


# --- properties: exact round trips, and only BadLog for anything else ------------------------------

_ticks = st.integers(MIN_TICK, MAX_TICK - 1)


@st.composite
def _price(draw):
    tick = draw(_ticks)
    low, high = sqrt_ratio_at_tick(tick), sqrt_ratio_at_tick(tick + 1)
    sqrt = draw(st.integers(max(low, MIN_SQRT_RATIO), min(high - 1, MAX_SQRT_RATIO - 1)))
    return sqrt, tick


@FAST
@given(st.integers(0, 2**112 - 1), st.integers(0, 2**112 - 1))
def test_random_v2_syncs_round_trip_exactly(r0, r1):
    d = decode_log(_log(V2_POOL, [V2_SYNC], _word(r0) + _word(r1)), REGISTRY, TS)
    assert d.message == PoolSync(reserve0=r0, reserve1=r1, timestamp_ns=TS, block_number=7, venue=300,
                                 token0_decimals=18, token1_decimals=6, pool_address=_addr(V2_POOL),
                                 token0_addr=T0, token1_addr=T1)
    assert (d.block_number, d.log_index, d.transaction_hash) == (7, 3, b"\x02" * 32)


@FAST
@given(st.integers(1, 2**128 - 1), st.integers(1, 2**128 - 1), st.booleans())
def test_random_v2_swaps_round_trip_exactly(amount_in, amount_out, zero_in):
    amounts = [amount_in, 0, 0, amount_out] if zero_in else [0, amount_in, amount_out, 0]
    data = b"".join(_word(a) for a in amounts)
    m = decode_log(_log(V2_POOL, [V2_SWAP, _addr_topic(T0), _addr_topic(T1)], data), REGISTRY, TS).message
    assert (m.amount_in, m.amount_out, m.token_in_addr, m.token_out_addr) == (
        amount_in, amount_out, *((T0, T1) if zero_in else (T1, T0)))
    assert (m.amount_in_decimals, m.amount_out_decimals) == ((18, 6) if zero_in else (6, 18))


@FAST
@given(st.integers(0, 2**128 - 1), st.integers(0, 2**128 - 1), st.booleans(), _price(),
       st.integers(0, 2**128 - 1))
def test_random_v3_swaps_round_trip_exactly(amount_in, amount_out, zero_in, price, liquidity):
    sqrt, tick = price
    a0, a1 = (amount_in, -amount_out) if zero_in else (-amount_out, amount_in)
    m = decode_log(_v3_swap_log(a0, a1, sqrt, liquidity, tick), REGISTRY, TS).message
    assert (m.sqrt_price_x96_after, m.tick_after, m.liquidity_after) == (sqrt, tick, liquidity)
    forward = a0 >= 0 >= a1
    assert (m.amount_in, m.amount_out) == ((a0, -a1) if forward else (a1, -a0))
    assert m.token_in_addr == (T0 if forward else T1)


@FAST
@given(st.integers(-(MAX_TICK // 60), MAX_TICK // 60), st.integers(1, 1000), st.integers(1, 2**128 - 1),
       st.integers(0, 2**128 - 1), st.integers(0, 2**128 - 1), st.booleans())
def test_random_v3_mints_and_burns_round_trip_exactly(lower, width, liquidity, a0, a1, mint):
    lower, upper = lower * 60, min(lower + width, MAX_TICK // 60) * 60
    if upper <= lower:
        lower = upper - 60
    topics = [V3_MINT if mint else V3_BURN, _addr_topic(T1), _word(lower, True), _word(upper, True)]
    data = (_addr_topic(T0) if mint else b"") + _word(liquidity) + _word(a0) + _word(a1)
    m = decode_log(_log(V3_POOL, topics, data), REGISTRY, TS).message
    assert isinstance(m, PoolMint if mint else PoolBurn)
    assert (m.tick_lower, m.tick_upper, m.liquidity_delta, m.amount0, m.amount1, m.provider_addr) == (
        lower, upper, liquidity, a0, a1, T1)


_topic_lists = st.lists(st.one_of(st.binary(min_size=32, max_size=32),
                                  st.sampled_from(list(TOPICS.values()))), max_size=5)


@FAST
@given(st.sampled_from([V2_POOL, V3_POOL]), _topic_lists, st.binary(max_size=200))
def test_random_logs_raise_only_bad_log(pool, topics, data):
    try:
        decode_log(_log(pool, topics, data), REGISTRY, TS)
    except BadLog as exc:
        assert exc.kind in BAD_LOG_KINDS


@FAST
@given(_price(), st.integers(0, 2**128 - 1), st.integers(0, 159), st.integers(0, 255), st.integers(-40, 40))
def test_mutated_v3_swaps_decode_to_what_they_hold_or_raise_bad_log(price, liquidity, at, xor, resize):
    """A mutated log either still decodes to exactly the words it holds, or raises BadLog."""
    log = _v3_swap_log(10**6, -(10**5), price[0], liquidity, price[1])
    data = bytearray(log["data"])
    data[at] ^= xor
    data = bytes(data[:len(data) + resize]) if resize < 0 else bytes(data) + bytes(resize)
    try:
        m = decode_log({**log, "data": data}, REGISTRY, TS).message
    except BadLog as exc:
        assert exc.kind in BAD_LOG_KINDS
        return
    a0 = int.from_bytes(data[:32], "big", signed=True)
    a1 = int.from_bytes(data[32:64], "big", signed=True)
    assert (m.amount_in, m.amount_out) == ((a0, -a1) if a0 >= 0 >= a1 else (a1, -a0))
    assert m.sqrt_price_x96_after == int.from_bytes(data[64:96], "big")
    assert m.liquidity_after == int.from_bytes(data[96:128], "big")
    assert m.tick_after == int.from_bytes(data[128:160], "big", signed=True)


# --- every error kind -------------------------------------------------------------------------------

_SYNC = _word(1) + _word(2)


def _with_data(data: bytes) -> dict:
    return _log(V3_POOL, [V3_SWAP, _addr_topic(T0), _addr_topic(T1)], data)


_GOOD_SQRT = sqrt_ratio_at_tick(0)  # 2**96: price 1, exactly tick 0
_ERRORS = {
    "malformed: not a mapping": ("malformed", "not a log", None),
    "malformed: topic of 31 bytes": ("malformed", _log(V2_POOL, [V2_SYNC[:31]], _SYNC), None),
    "malformed: data as hex text": ("malformed", _log(V2_POOL, [V2_SYNC], "0x" + _SYNC.hex()), None),
    "malformed: negative block": ("malformed", _log(V2_POOL, [V2_SYNC], _SYNC, blockNumber=-1), None),
    "malformed: missing key": ("malformed", {"address": V2_POOL}, None),
    "malformed: address not hex": ("malformed", _log("0x" + "zz" * 20, [V2_SYNC], _SYNC), "0x" + "zz" * 20),
    "removed": ("removed", _log(V2_POOL, [V2_SYNC], _SYNC, removed=True), None),
    "unknown pool": ("unknown_pool", _log(V2_POOL.lower(), [V2_SYNC], _SYNC), None),
    "unknown event: ERC-20 Transfer": ("unknown_event", _log(
        V2_POOL, [keccak(text="Transfer(address,address,uint256)"), bytes(32), bytes(32)], _word(5)), None),
    "unknown event: V3 topic at a V2 pair": ("unknown_event", _log(V2_POOL, [V3_INITIALIZE], _SYNC), None),
    "unknown event: no topics": ("unknown_event", _log(V2_POOL, [], _SYNC), None),
    "topic count": ("topic_count", _log(V2_POOL, [V2_SYNC, bytes(32)], _SYNC), None),
    "data length": ("data_length", _log(V2_POOL, [V2_SYNC], _SYNC + b"\x00"), None),
    "out of range: uint112": ("out_of_range", _log(V2_POOL, [V2_SYNC], _word(2**112) + _word(1)), None),
    "out of range: int24 not sign-extended": ("out_of_range", _with_data(
        abi_encode(["int256", "int256", "uint160", "uint128"], [1, -1, _GOOD_SQRT, 1])
         + _word(2**24 - 1)), None),
    "out of range: uint160": ("out_of_range", _with_data(
        _word(1) + _word(-1, True) + _word(2**160) + _word(1) + _word(0)), None),
    "out of range: uint128 liquidity": ("out_of_range", _with_data(
        _word(1) + _word(-1, True) + _word(_GOOD_SQRT) + _word(2**128) + _word(0)), None),
    "out of range: address topic": ("out_of_range", _log(V2_POOL, [V2_MINT, b"\x01" * 32], _SYNC), None),
    "inconsistent: tick off the price": ("inconsistent", _v3_swap_log(1, -1, _GOOD_SQRT, 1, 5), None),
    "inconsistent: price below TickMath": ("inconsistent", _v3_swap_log(1, -1, MIN_SQRT_RATIO - 1, 1, MIN_TICK),
                                           None),
    "inconsistent: both amounts paid out": ("inconsistent", _v3_swap_log(-1, -1, _GOOD_SQRT, 1, 0), None),
    "inconsistent: misaligned tick range": ("inconsistent", _log(
        V3_POOL, [V3_BURN, _addr_topic(T0), _word(-61, True), _word(60, True)], bytes(96)), None),
    "inconsistent: empty tick range": ("inconsistent", _log(
        V3_POOL, [V3_BURN, _addr_topic(T0), _word(60, True), _word(60, True)], bytes(96)), None),
    "inconsistent: zero-liquidity mint": ("inconsistent", _log(
        V3_POOL, [V3_MINT, _addr_topic(T0), _word(-60, True), _word(60, True)], bytes(128)), None),
    "inconsistent: initialize off its tick": ("inconsistent", _log(
        V3_POOL, [V3_INITIALIZE], _word(sqrt_ratio_at_tick(11)) + _word(10, True)), None),
    "unrepresentable: V3 amount over u128": ("unrepresentable", _v3_swap_log(2**128, -1, _GOOD_SQRT, 1, 0), None),
    "unrepresentable: V2 burn over u128": ("unrepresentable", _log(
        V2_POOL, [V2_BURN, _addr_topic(T0), _addr_topic(T1)], _word(2**128) + _word(1)), None),
    "unrepresentable: V2 swap with no direction": ("unrepresentable", _log(
        V2_POOL, [V2_SWAP, _addr_topic(T0), _addr_topic(T1)], _word(5) + _word(5) + _word(1) + _word(1)), None),
}


@pytest.mark.parametrize("case", list(_ERRORS))
def test_each_bad_log_raises_its_kind(case):
    kind, log, extra_address = _ERRORS[case]
    registry = REGISTRY if extra_address is None else {**REGISTRY, extra_address: REGISTRY[V2_POOL]}
    with pytest.raises(BadLog) as info:
        decode_log(log, registry, TS)
    assert info.value.kind == kind


def test_every_bad_log_kind_is_triggered():
    assert {kind for kind, _, _ in _ERRORS.values()} == set(BAD_LOG_KINDS) - {"unknown_factory", "not_create2"}


def test_a_good_initialize_still_decodes_beside_the_bad_ones():
    d = decode_log(_log(V3_POOL, [V3_INITIALIZE], _word(_GOOD_SQRT) + _word(0, True)), REGISTRY, TS)
    assert isinstance(d.message, PoolState) and (d.message.sqrt_price_x96, d.message.tick) == (_GOOD_SQRT, 0)
