"""Batched pool bootstrap: the same states as the one-call-per-field readers, at the block asked,
in three round trips; a bad pool fails alone, by kind (devnet and a scripted fake node)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from alphapulse.errors import ChainError
from contracts.answers import BadRpcAnswer, RpcError
from contracts.anvil import mine
from contracts.client import Chain, ChainUnreachable
from contracts.events import PoolInfo, registry_from_manifest
from contracts.factories import NewPool
from contracts.npm import own_artifact
from contracts.pools import V2State, V3State, read_v2, read_v3, swap_v2, swap_v3
from contracts.snapshot import (
    SNAPSHOT_FAILURE_KINDS,
    NoSuchBlock,
    PoolReadError,
    pool_infos,
    read_ticks,
    snapshot_pools,
    word_range,
)
from contracts.v3math import MAX_TICK, MIN_TICK, sqrt_ratio_at_tick
from mesh.protocol.constants import PoolKind
from tests.contracts.bare import FakeNode
from tests.contracts.hostile import hostile_pool

T0, T1 = b"\x11" * 20, b"\x22" * 20


def _readers(net, registry: dict[str, PoolInfo], radius: int = 8) -> dict[str, V2State | V3State]:
    """Every pool read the slow way: one eth_call per field, at the latest block."""
    return {a: read_v2(net.chain, a) if i.kind == PoolKind.UNISWAP_V2 else read_v3(net.chain, a, radius)
            for a, i in registry.items()}


def _returning(payload: bytes) -> str:
    """Runtime bytecode that answers any call with ``payload`` (CODECOPY it, RETURN it)."""
    n = len(payload).to_bytes(2, "big")
    prefix = b"\x61" + n + b"\x61\x00\x0f\x60\x00\x39\x61" + n + b"\x60\x00\xf3"
    assert len(prefix) == 15
    return "0x" + (prefix + payload).hex()


def _fake_contract(net, payload: bytes, salt: int) -> str:
    address = to_checksum_address(keccak(b"snapshot test contract" + bytes([salt]))[12:])
    net.chain.rpc("anvil_setCode", [address, _returning(payload)])
    return address


# --- against the devnet ---------------------------------------------------------------------------

@pytest.mark.chain
def test_snapshot_equals_the_one_call_per_field_readers_for_every_devnet_pool(net):
    registry = registry_from_manifest(net.manifest)
    block = net.chain.block_number()
    snap = snapshot_pools(net.chain, registry, block, word_radius=8)
    assert snap.failed == {}
    assert snap.states == _readers(net, registry)
    assert snap.round_trips == 3
    assert snap.head is not None and snap.head.number == block
    v3 = [s for s in snap.states.values() if isinstance(s, V3State)]
    assert all(s.ticks and list(s.ticks) == sorted(s.ticks, key=lambda t: t.tick) for s in v3)


@pytest.mark.chain
def test_read_ticks_reads_initialized_and_empty_ticks_at_the_block(net):
    registry = registry_from_manifest(net.manifest)
    pools = [p for p, info in registry.items() if info.kind == PoolKind.UNISWAP_V3]
    block = net.chain.block_number()
    states = snapshot_pools(net.chain, {p: registry[p] for p in pools}, block).states
    wanted = {p: [t.tick for t in states[p].ticks] + [states[p].ticks[0].tick + registry[p].tick_spacing]
              for p in pools}
    ticks, failed = read_ticks(net.chain, wanted, block)
    assert failed == {}
    for pool in pools:
        assert ticks[pool][:-1] != [] and sorted(ticks[pool], key=lambda t: t.tick) == ticks[pool]
        known = {t.tick: t for t in states[pool].ticks}
        for tick in ticks[pool]:
            expected = known.get(tick.tick)
            assert (tick.liquidity_gross, tick.liquidity_net) == \
                ((expected.liquidity_gross, expected.liquidity_net) if expected else (0, 0))
    with pytest.raises(ChainError):
        read_ticks(net.chain, {pools[0]: [MAX_TICK + 1]}, block)


@pytest.mark.chain
def test_a_radius_covering_every_word_finds_the_full_range_ticks_of_the_spacing_1_pool(net):
    entry = next(p for p in net.manifest["uniswap_v3"]["pools"] if p["tick_spacing"] == 1)
    registry = {entry["address"]: registry_from_manifest(net.manifest)[entry["address"]]}
    block = net.chain.block_number()
    narrow = snapshot_pools(net.chain, registry, block).states[entry["address"]]
    full = snapshot_pools(net.chain, registry, block, word_radius=10**6)
    state = full.states[entry["address"]]
    assert isinstance(state, V3State) and isinstance(narrow, V3State)
    bounds = {p[k] for p in entry["positions"] for k in ("tick_lower", "tick_upper")}
    assert {MIN_TICK, MAX_TICK} <= bounds == {t.tick for t in state.ticks}
    assert {t.tick for t in narrow.ticks} == bounds - {MIN_TICK, MAX_TICK}
    words = len(word_range(state.tick, 1, 10**6))
    assert words == (MAX_TICK >> 8) - (-MAX_TICK >> 8) + 1  # every word, none beyond
    assert full.calls == 4 + words + len(bounds)
    assert full.round_trips == 1 + math.ceil(words / 1000) + 1
    assert all(t.liquidity_gross > 0 for t in state.ticks)
    assert sum(t.liquidity_net for t in state.ticks) == 0


@pytest.mark.chain
def test_a_snapshot_of_an_earlier_block_holds_that_block_after_the_pools_moved(net):
    registry = registry_from_manifest(net.manifest)
    block = net.chain.block_number()
    before = _readers(net, registry)
    v2 = net.pool("uniswap_v2", "WETH/USDC")
    v3 = net.pool("uniswap_v3", "WETH/USDC", 500)
    swap_v2(net.chain, v2, net.token("USDC"), 50_000 * 10**6)
    swap_v3(net.chain, net.manifest["periphery"], v3, net.token("WETH"), 300 * 10**18)
    tick = read_v3(net.chain, v3).tick // 10 * 10
    periphery = net.chain.contract(net.manifest["periphery"], own_artifact("DevnetPeriphery")["abi"])
    net.chain.transact(periphery, "mintV3", v3, tick - 50, tick + 50, 10**15)  # two new ticks
    mine(net.chain, 2)
    after = _readers(net, registry)
    assert after[v2] != before[v2] and after[v3] != before[v3]
    assert len(after[v3].ticks) == len(before[v3].ticks) + 2  # type: ignore[union-attr]
    assert snapshot_pools(net.chain, registry, block).states == before
    assert snapshot_pools(net.chain, registry, net.chain.block_number()).states == after


@pytest.mark.chain
def test_hostile_missing_malformed_and_mismatched_pools_fail_alone_by_kind(net):
    registry = registry_from_manifest(net.manifest)
    weth, usdc = net.token("WETH"), net.token("USDC")
    hostile = hostile_pool(net, weth, usdc, 3000).address  # no slot0: reverts
    genuine_v3 = net.pool("uniswap_v3", "WETH/USDC", 3000)
    dirty = _fake_contract(net, (2**112).to_bytes(32, "big") + bytes(64), 1)  # uint112 with bit 112
    short = _fake_contract(net, bytes(64), 2)  # two words for three
    nobody = to_checksum_address("0x" + "5a" * 20)
    v2_info = PoolInfo(PoolKind.UNISWAP_V2, T0, T1, 18, 18, 30)
    wrong_fee = PoolInfo(PoolKind.UNISWAP_V3, T0, T1, 18, 18, 500, 10)
    bad = {hostile: PoolInfo(PoolKind.UNISWAP_V3, T0, T1, 18, 18, 3000, 60), nobody: v2_info,
           dirty: v2_info, short: v2_info}
    mixed = {**registry, **bad}
    mixed[genuine_v3] = wrong_fee
    snap = snapshot_pools(net.chain, mixed, net.chain.block_number())
    kinds = {a: e.kind for a, e in snap.failed.items()}
    assert kinds == {hostile: "reverted", nobody: "no_code", dirty: "malformed", short: "malformed",
                     genuine_v3: "mismatch"}
    assert all(isinstance(e, PoolReadError) for e in snap.failed.values())
    good = {a: i for a, i in registry.items() if a != genuine_v3}
    assert snap.states == _readers(net, good)
    assert snap.round_trips == 3


@pytest.mark.chain
@pytest.mark.parametrize("max_batch", [1000, 7])
def test_round_trips_are_three_while_rounds_fit_and_grow_with_chunks(net, max_batch):
    registry = registry_from_manifest(net.manifest)
    block = net.chain.block_number()
    one = dict([next(iter((a, i) for a, i in registry.items() if i.kind == PoolKind.UNISWAP_V3))])
    small = snapshot_pools(net.chain, one, block, max_batch=max_batch)
    snap = snapshot_pools(net.chain, registry, block, max_batch=max_batch)
    assert snap.states == snapshot_pools(net.chain, registry, block).states
    if max_batch == 1000:
        assert small.round_trips == snap.round_trips == 3
        return
    v3 = [s for s in snap.states.values() if isinstance(s, V3State)]
    rounds = [1 + sum(1 if i.kind == PoolKind.UNISWAP_V2 else 4 for i in registry.values()),
              sum(len(word_range(s.tick, s.tick_spacing, 8)) for s in v3), sum(len(s.ticks) for s in v3)]
    assert snap.round_trips == sum(math.ceil(n / max_batch) for n in rounds)
    assert snap.calls == sum(rounds) - 1


@pytest.mark.chain
def test_pool_infos_reads_decimals_at_the_block_and_fails_pools_of_bad_tokens(net):
    weth, usdc, dai = net.token("WETH"), net.token("USDC"), net.token("DAI")
    huge = _fake_contract(net, (256).to_bytes(32, "big"), 3)
    reverting = hostile_pool(net, weth, usdc).address  # no decimals(): reverts
    sort = lambda a, b: sorted((a, b), key=lambda t: int(t, 16))  # noqa: E731

    def new(a: str, b: str, pool: str) -> NewPool:
        t0, t1 = sort(a, b)
        return NewPool("0x" + "00" * 20, PoolKind.UNISWAP_V2, t0, t1, 30, 0, pool, 1, 0, 1)

    pools = [new(weth, usdc, "0x" + "01" * 20), new(usdc, dai, "0x" + "02" * 20),
             new(weth, huge, "0x" + "03" * 20), new(dai, reverting, "0x" + "04" * 20)]
    out = pool_infos(net.chain, pools, net.chain.block_number(), decimals={dai: 18})
    assert set(out.infos) == {"0x" + "01" * 20, "0x" + "02" * 20}
    first = out.infos["0x" + "01" * 20]
    decimals = {weth: 18, usdc: 6}
    t0, t1 = sort(weth, usdc)
    assert (first.decimals0, first.decimals1) == (decimals[t0], decimals[t1])
    assert {p: e.kind for p, e in out.failed.items()} == {
        "0x" + "03" * 20: "bad_token", "0x" + "04" * 20: "bad_token"}
    assert out.decimals == {weth: 18, usdc: 6, dai: 18} and out.round_trips == 1


# --- a scripted node: every failure kind, and what fails the whole snapshot -----------------------

_SEL = {keccak(text=s)[:4].hex(): s.split("(")[0] for s in (
    "getReserves()", "slot0()", "liquidity()", "fee()", "tickSpacing()", "tickBitmap(int16)", "ticks(int24)")}
V3_POOL = to_checksum_address("0x" + "bb" * 20)
V2_POOL = to_checksum_address("0x" + "aa" * 20)
REGISTRY = {V3_POOL: PoolInfo(PoolKind.UNISWAP_V3, T0, T1, 18, 18, 3000, 60),
            V2_POOL: PoolInfo(PoolKind.UNISWAP_V2, T0, T1, 18, 18, 30)}
HEADER = {"number": "0x10", "hash": "0x" + "11" * 32, "parentHash": "0x" + "22" * 32, "timestamp": "0x6500",
          "gasLimit": "0x1c9c380", "gasUsed": "0x0", "baseFeePerGas": "0x7"}


def _ok(value: Any) -> dict:
    return {"result": value}


def _hex(*words: tuple[str, int]) -> dict:
    return _ok("0x" + abi_encode([t for t, _ in words], [v for _, v in words]).hex())


def _v3_pool(tick: int = 120, bitmap: dict[int, int] | None = None, **override: dict) -> Callable[[str, bytes], dict]:
    """A V3 pool (spacing 60) at ``tick``; its bitmap marks ticks -60 and 180 unless ``bitmap`` is given."""
    if bitmap is None:
        bitmap = {-1: 1 << 255, 0: 1 << 3}  # compressed ticks -1 and 3

    def answer(name: str, args: bytes) -> dict:
        if name in override:
            return override[name]
        if name == "slot0":
            return _hex(("uint160", sqrt_ratio_at_tick(tick)), ("int24", tick), ("uint16", 0), ("uint16", 1),
                        ("uint16", 1), ("uint8", 0), ("bool", True))
        if name == "liquidity":
            return _hex(("uint128", 10**18))
        if name == "fee":
            return _hex(("uint24", 3000))
        if name == "tickSpacing":
            return _hex(("int24", 60))
        if name == "tickBitmap":
            word = int.from_bytes(args, "big", signed=True)
            return _hex(("uint256", bitmap.get(word, 0)))
        if name == "ticks":
            tick_ = int.from_bytes(args, "big", signed=True)
            net = 10**18 if tick_ < tick else -(10**18)
            return _hex(("uint128", 10**18), ("int128", net), ("uint256", 0), ("uint256", 0), ("int56", 0),
                        ("uint160", 0), ("uint32", 0), ("bool", True))
        return {"error": {"code": 3, "message": "execution reverted"}}
    return answer


class _ScriptedNode:
    """Answers each request of a batch from per-contract scripts; records the batches."""

    def __init__(self, node: FakeNode, contracts: dict[str, Callable[[str, bytes], dict]]):
        self.contracts = {a.lower(): f for a, f in contracts.items()}
        self.header: Any = _ok(HEADER)
        self.batches: list[int] = []
        node.batch = self.batch

    def batch(self, requests: list[dict]) -> list[dict]:
        self.batches.append(len(requests))
        return [{"jsonrpc": "2.0", "id": r["id"], **self.one(r)} for r in requests]

    def one(self, request: dict) -> dict:
        if request["method"].startswith("eth_getBlockBy"):
            return self.header
        call = request["params"][0]
        script = self.contracts.get(call["to"].lower())
        if script is None:
            return _ok("0x")
        payload = bytes.fromhex(call["data"][2:])
        return script(_SEL[payload[:4].hex()], payload[4:])


@pytest.fixture
def node() -> Iterator[FakeNode]:
    with FakeNode() as fake:
        yield fake


def _v2_pair(answer: dict | None = None) -> Callable[[str, bytes], dict]:
    return lambda name, args: answer or _hex(("uint112", 5), ("uint112", 7), ("uint32", 9))


def test_a_scripted_pool_snapshot_reads_its_state_in_three_round_trips(node):
    script = _ScriptedNode(node, {V3_POOL: _v3_pool(), V2_POOL: _v2_pair()})
    snap = snapshot_pools(Chain(node.url, timeout=5), REGISTRY, 16, word_radius=1)
    assert snap.failed == {}
    state = snap.states[V3_POOL]
    assert isinstance(state, V3State)
    assert [(t.tick, t.liquidity_net) for t in state.ticks] == [(-60, 10**18), (180, -(10**18))]
    assert (state.tick, state.liquidity, state.fee, state.tick_spacing) == (120, 10**18, 3000, 60)
    assert snap.states[V2_POOL] == V2State(V2_POOL, to_checksum_address(T0), to_checksum_address(T1), 5, 7, 9)
    assert script.batches == [1 + 4 + 1, 3, 2]  # header + round one; words -1..1; two ticks


def test_an_uninitialized_v3_pool_reads_as_price_zero_without_tick_rounds(node):
    zero = _hex(("uint160", 0), ("int24", 0), ("uint16", 0), ("uint16", 0), ("uint16", 0), ("uint8", 0),
                ("bool", False))
    script = _ScriptedNode(node, {V3_POOL: _v3_pool(slot0=zero, liquidity=_hex(("uint128", 0)))})
    snap = snapshot_pools(Chain(node.url, timeout=5), {V3_POOL: REGISTRY[V3_POOL]}, 16)
    state = snap.states[V3_POOL]
    assert isinstance(state, V3State) and (state.sqrt_price_x96, state.ticks) == (0, ())
    assert script.batches == [5] and snap.round_trips == 1


_WORD_ONES = _hex(("uint256", 2**256 - 1))
_TICK_NOT_INITIALIZED = _hex(("uint128", 0), ("int128", 0), ("uint256", 0), ("uint256", 0), ("int56", 0),
                             ("uint160", 0), ("uint32", 0), ("bool", False))
_FAILURES: dict[str, tuple[str, dict]] = {
    "reverted": ("reverted", {"slot0": {"error": {"code": 3, "message": "execution reverted", "data": "0x"}}}),
    "another rpc error": ("rpc_error", {"fee": {"error": {"code": -32000, "message": "out of gas"}}}),
    "empty answer": ("no_code", {"liquidity": _ok("0x")}),
    "answer not hex": ("malformed", {"liquidity": _ok("0xzz")}),
    "answer neither result nor error": ("malformed", {"liquidity": {"nothing": 1}}),
    "dirty fee word": ("malformed", {"fee": _ok("0x" + (2**24 + 3000).to_bytes(32, "big").hex())}),
    "int24 spacing not sign-extended": ("malformed", {"tickSpacing": _ok("0x" + (2**24 - 60).to_bytes(32, "big").hex())}),
    "a word too many": ("malformed", {"liquidity": _ok("0x" + bytes(64).hex())}),
    "dirty bool in ticks": ("malformed", {"ticks": _ok("0x" + (bytes(224) + (2).to_bytes(32, "big")).hex())}),
    "tick off the price": ("inconsistent", {"slot0": _hex(
        ("uint160", sqrt_ratio_at_tick(500)), ("int24", 120), ("uint16", 0), ("uint16", 1), ("uint16", 1),
        ("uint8", 0), ("bool", True))}),
    "price below TickMath": ("inconsistent", {"slot0": _hex(
        ("uint160", 5), ("int24", MIN_TICK), ("uint16", 0), ("uint16", 1), ("uint16", 1), ("uint8", 0),
        ("bool", True))}),
    "marked tick not initialized": ("inconsistent", {"ticks": _TICK_NOT_INITIALIZED}),
    "fee differs from the registry": ("mismatch", {"fee": _hex(("uint24", 500))}),
    "tick spacing differs from the registry": ("mismatch", {"tickSpacing": _hex(("int24", 10))}),
}


@pytest.mark.parametrize("case", list(_FAILURES))
def test_each_bad_answer_fails_its_pool_alone_with_its_kind(node, case):
    kind, override = _FAILURES[case]
    _ScriptedNode(node, {V3_POOL: _v3_pool(**override), V2_POOL: _v2_pair()})
    snap = snapshot_pools(Chain(node.url, timeout=5), REGISTRY, 16, word_radius=1)
    assert set(snap.failed) == {V3_POOL} and set(snap.states) == {V2_POOL}
    assert snap.failed[V3_POOL].kind == kind


def test_a_bitmap_marking_ticks_beyond_tick_math_is_inconsistent(node):
    _ScriptedNode(node, {V3_POOL: _v3_pool(tick=MAX_TICK - 100, bitmap={(MAX_TICK // 60) >> 8: 2**256 - 1})})
    snap = snapshot_pools(Chain(node.url, timeout=5), {V3_POOL: REGISTRY[V3_POOL]}, 16, word_radius=1)
    assert snap.failed[V3_POOL].kind == "inconsistent"


def test_every_failure_kind_is_triggered():
    assert {k for k, _ in _FAILURES.values()} | {"bad_token"} == set(SNAPSHOT_FAILURE_KINDS)


def test_word_range_is_clamped_to_the_words_that_hold_ticks():
    assert word_range(0, 60, 2) == range(-2, 3)
    assert word_range(MAX_TICK - 1, 60, 5) == range(((MAX_TICK // 60) >> 8) - 5, ((MAX_TICK // 60) >> 8) + 1)
    assert word_range(-100, 200, 10**6) == range((-(MAX_TICK // 200)) >> 8, ((MAX_TICK // 200) >> 8) + 1)
    assert word_range(-1, 1, 0) == range(-1, 0)  # tick -1 is in word -1


@pytest.mark.parametrize(("header", "error"), [
    (_ok(None), NoSuchBlock), (_ok({**HEADER, "number": "0x11"}), NoSuchBlock),
    ({"error": {"code": -32001, "message": "Resource not found"}}, RpcError),
    (_ok({**HEADER, "baseFeePerGas": None}), BadRpcAnswer)])
def test_a_block_the_node_does_not_have_fails_the_whole_snapshot(node, header, error):
    script = _ScriptedNode(node, {V3_POOL: _v3_pool(), V2_POOL: _v2_pair()})
    script.header = header
    with pytest.raises(error):
        snapshot_pools(Chain(node.url, timeout=5), REGISTRY, 16)
    assert len(script.batches) == 1


def test_a_block_hash_the_header_does_not_have_is_no_such_block(node):
    _ScriptedNode(node, {V3_POOL: _v3_pool(), V2_POOL: _v2_pair()})
    with pytest.raises(NoSuchBlock):
        snapshot_pools(Chain(node.url, timeout=5), REGISTRY, 16, block_hash=b"\x99" * 32)


@pytest.mark.filterwarnings("ignore:Received batch response with missing")  # web3's, before our check
def test_a_batch_answer_that_does_not_pair_with_the_requests_fails_the_whole_snapshot(node):
    node.batch = lambda requests: [{"jsonrpc": "2.0", "id": requests[0]["id"], "result": "0x"}]
    with pytest.raises(BadRpcAnswer):
        snapshot_pools(Chain(node.url, timeout=5), REGISTRY, 16)


def test_no_node_fails_the_whole_snapshot():
    with FakeNode() as gone:
        chain = Chain(gone.url, timeout=5)
    with pytest.raises(ChainUnreachable):
        snapshot_pools(chain, REGISTRY, 16)


def test_bad_arguments_are_chain_errors(node):
    chain = Chain(node.url, timeout=5)
    for kwargs in ({"word_radius": -1}, {"max_batch": 0}):
        with pytest.raises(ChainError):
            snapshot_pools(chain, REGISTRY, 16, **kwargs)
