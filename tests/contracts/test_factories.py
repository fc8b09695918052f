"""Factory creation logs decode to the pool the factory created, or BadLog by kind; a new pool is
then bootstrapped from its log alone (devnet, and forged logs)."""

from __future__ import annotations

import pytest
from eth_utils import keccak, to_checksum_address

from contracts.deploy import v2_pair_address, v3_pool_address
from contracts.events import BAD_LOG_KINDS, BadLog
from contracts.factories import (
    PAIR_CREATED,
    POOL_CREATED,
    Factory,
    NewPool,
    decode_factory_log,
    factories_from_manifest,
)
from contracts.npm import V2, V3, npm_artifact, own_artifact
from contracts.pools import read_v2, read_v3, v3_pool
from contracts.snapshot import pool_infos, snapshot_pools
from contracts.v3math import sqrt_ratio_at_tick
from mesh.protocol.constants import PoolKind, VenueId

V2_FACTORY = to_checksum_address("0x" + "f2" * 20)
V3_FACTORY = to_checksum_address("0x" + "f3" * 20)
FACTORIES = {V2_FACTORY: Factory(V2_FACTORY, PoolKind.UNISWAP_V2),
             V3_FACTORY: Factory(V3_FACTORY, PoolKind.UNISWAP_V3)}
A, B = to_checksum_address("0x" + "11" * 20), to_checksum_address("0x" + "22" * 20)  # A < B


def _topic(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big", signed=value < 0)


def _log(address: str, topics: list[bytes], data: bytes, **extra) -> dict:
    log = {"address": address, "topics": topics, "data": data, "blockNumber": 9, "blockHash": b"\x01" * 32,
           "transactionHash": b"\x02" * 32, "transactionIndex": 0, "logIndex": 4, "removed": False}
    log.update(extra)
    return log


def _pair_log(t0: str = A, t1: str = B, pair: str | None = None, count: int = 1, **extra) -> dict:
    pair = pair or v2_pair_address(V2_FACTORY, t0, t1)
    return _log(V2_FACTORY, [PAIR_CREATED, _topic(t0), _topic(t1)], _topic(pair) + _word(count), **extra)


def _pool_log(t0: str = A, t1: str = B, fee: int = 3000, spacing: int = 60, pool: str | None = None) -> dict:
    pool = pool or v3_pool_address(V3_FACTORY, t0, t1, fee)
    return _log(V3_FACTORY, [POOL_CREATED, _topic(t0), _topic(t1), _word(fee)], _word(spacing) + _topic(pool))


# --- constants and good logs ----------------------------------------------------------------------

def test_topic0_constants_equal_the_factory_abis():
    def topics(package: str, name: str) -> dict[str, bytes]:
        return {e["name"]: keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})")
                for e in npm_artifact(package, name)["abi"] if e["type"] == "event"}

    assert topics(V2, "UniswapV2Factory")["PairCreated"] == PAIR_CREATED
    assert topics(V3, "UniswapV3Factory")["PoolCreated"] == POOL_CREATED


def test_forged_but_well_formed_logs_decode_to_their_pools():
    pair = decode_factory_log(_pair_log(), FACTORIES)
    assert pair == NewPool(V2_FACTORY, PoolKind.UNISWAP_V2, A, B, 30, 0, v2_pair_address(V2_FACTORY, A, B), 9, 4,
                           int(VenueId.UNISWAP_V2))
    pool = decode_factory_log(_pool_log(spacing=200, fee=10_000), FACTORIES)
    assert (pool.fee, pool.tick_spacing, pool.pool, pool.venue) == (
        10_000, 200, v3_pool_address(V3_FACTORY, A, B, 10_000), int(VenueId.UNISWAP_V3))


def test_a_configured_init_code_hash_replaces_the_pinned_one():
    code_hash = keccak(b"another pair's creation code")
    factories = {V2_FACTORY: Factory(V2_FACTORY, PoolKind.UNISWAP_V2, code_hash, int(VenueId.SUSHISWAP), 25)}
    elsewhere = v2_pair_address(V2_FACTORY, A, B, code_hash)
    got = decode_factory_log(_pair_log(pair=elsewhere), factories)
    assert (got.pool, got.fee, got.venue) == (elsewhere, 25, int(VenueId.SUSHISWAP))
    with pytest.raises(BadLog) as info:
        decode_factory_log(_pair_log(), factories)
    assert info.value.kind == "not_create2"


# --- forged logs: every kind ----------------------------------------------------------------------

_OTHER = to_checksum_address("0x" + "33" * 20)
_ERRORS: dict[str, tuple[str, object]] = {
    "malformed: not a mapping": ("malformed", "not a log"),
    "malformed: missing key": ("malformed", {"address": V2_FACTORY}),
    "malformed: data as hex text": ("malformed", {**_pair_log(), "data": "0x00"}),
    "malformed: short topic": ("malformed", {**_pair_log(), "topics": [PAIR_CREATED[:31]]}),
    "removed": ("removed", _pair_log(removed=True)),
    "unknown factory": ("unknown_factory", {**_pair_log(), "address": _OTHER}),
    "unknown factory: lower-case address": ("unknown_factory", {**_pair_log(), "address": V2_FACTORY.lower()}),
    "unknown event: PoolCreated at a V2 factory": ("unknown_event", {**_pool_log(), "address": V2_FACTORY}),
    "unknown event: V3 OwnerChanged": ("unknown_event", _log(
        V3_FACTORY, [keccak(text="OwnerChanged(address,address)"), _topic(A), _topic(B)], b"")),
    "unknown event: no topics": ("unknown_event", _log(V2_FACTORY, [], b"")),
    "topic count: PairCreated without token1": ("topic_count", {
        **_pair_log(), "topics": [PAIR_CREATED, _topic(A)]}),
    "topic count: PoolCreated with fee in data": ("topic_count", _log(
        V3_FACTORY, [POOL_CREATED, _topic(A), _topic(B)], _word(3000) + _word(60) + _topic(A))),
    "data length": ("data_length", {**_pair_log(), "data": _pair_log()["data"] + bytes(32)}),
    "out of range: dirty token topic": ("out_of_range", {
        **_pair_log(), "topics": [PAIR_CREATED, b"\x01" + _topic(A)[1:], _topic(B)]}),
    "out of range: dirty pair word": ("out_of_range", {
        **_pair_log(), "data": b"\xff" + _pair_log()["data"][1:]}),
    "out of range: fee above uint24": ("out_of_range", {
        **_pool_log(), "topics": [POOL_CREATED, _topic(A), _topic(B), _word(2**24 + 3000)]}),
    "out of range: tick spacing not sign-extended": ("out_of_range", {
        **_pool_log(), "data": _word(2**24 - 60) + _topic(v3_pool_address(V3_FACTORY, A, B, 3000))}),
    "inconsistent: unsorted tokens": ("inconsistent", _pair_log(B, A, pair=v2_pair_address(V2_FACTORY, A, B))),
    "inconsistent: one token twice": ("inconsistent", _pair_log(A, A, pair=v2_pair_address(V2_FACTORY, A, B))),
    "inconsistent: zero token": ("inconsistent", _pair_log("0x" + "00" * 20, B)),
    "inconsistent: pair count 0": ("inconsistent", _pair_log(count=0)),
    "inconsistent: negative tick spacing": ("inconsistent", _pool_log(spacing=-60)),
    "inconsistent: fee of 100 %": ("inconsistent", _pool_log(fee=1_000_000)),
    "not CREATE2: pair elsewhere": ("not_create2", _pair_log(pair=_OTHER)),
    "not CREATE2: pool of another fee": ("not_create2", _pool_log(pool=v3_pool_address(V3_FACTORY, A, B, 500))),
    "not CREATE2: pool of another factory": ("not_create2", _pool_log(pool=v3_pool_address(V2_FACTORY, A, B, 3000))),
    "unrepresentable: fee not whole bps": ("unrepresentable", _pool_log(fee=2500 + 50)),
}


@pytest.mark.parametrize("case", list(_ERRORS))
def test_each_forged_log_raises_its_kind(case):
    kind, log = _ERRORS[case]
    with pytest.raises(BadLog) as info:
        decode_factory_log(log, FACTORIES)  # type: ignore[arg-type]
    assert info.value.kind == kind


def test_the_factory_kinds_are_bad_log_kinds_and_all_triggered():
    kinds = {kind for kind, _ in _ERRORS.values()}
    assert {"unknown_factory", "not_create2"} <= kinds <= set(BAD_LOG_KINDS)


# --- against the devnet ---------------------------------------------------------------------------

def _created(net, receipt) -> NewPool:
    factories = factories_from_manifest(net.manifest)
    (log,) = [x for x in receipt["logs"] if x["address"] in factories]
    return decode_factory_log(log, factories)


@pytest.mark.chain
@pytest.mark.parametrize(("section", "venue"), [("uniswap_v2", VenueId.UNISWAP_V2),
                                                ("uniswap_v2_fork", VenueId.SUSHISWAP)])
def test_a_new_v2_pair_decodes_from_its_real_log_and_bootstraps(net, section, venue):
    art = npm_artifact(V2, "UniswapV2Factory")
    factory = net.chain.contract(net.manifest[section]["factory"], art["abi"])
    wbtc, dai = net.token("WBTC"), net.token("DAI")
    receipt = net.chain.transact(factory, "createPair", dai, wbtc)
    new = _created(net, receipt)
    address = factory.functions.getPair(wbtc, dai).call()
    t0, t1 = sorted((wbtc, dai), key=lambda t: int(t, 16))
    assert new == NewPool(factory.address, PoolKind.UNISWAP_V2, t0, t1, 30, 0, address, receipt["blockNumber"],
                          receipt["logs"][0]["logIndex"], int(venue))
    infos = pool_infos(net.chain, [new], receipt["blockNumber"])
    assert infos.failed == {}
    snap = snapshot_pools(net.chain, infos.infos, receipt["blockNumber"])
    assert snap.states == {address: read_v2(net.chain, address)}
    assert snap.round_trips == 1


@pytest.mark.chain
def test_a_new_v3_pool_decodes_from_its_real_log_and_bootstraps_once_initialized(net):
    art = npm_artifact(V3, "UniswapV3Factory")
    factory = net.chain.contract(net.manifest["uniswap_v3"]["factory"], art["abi"])
    wbtc, dai = net.token("WBTC"), net.token("DAI")
    receipt = net.chain.transact(factory, "createPool", wbtc, dai, 500)
    new = _created(net, receipt)
    address = factory.functions.getPool(wbtc, dai, 500).call()
    assert (new.pool, new.kind, new.fee, new.tick_spacing, new.block) == (
        address, PoolKind.UNISWAP_V3, 500, 10, receipt["blockNumber"])
    infos = pool_infos(net.chain, [new], receipt["blockNumber"])
    decimals = {wbtc: 8, dai: 18}
    info = infos.infos[address]
    assert (info.decimals0, info.decimals1) == (decimals[new.token0], decimals[new.token1])
    fresh = snapshot_pools(net.chain, infos.infos, receipt["blockNumber"]).states[address]
    assert (fresh.sqrt_price_x96, fresh.liquidity, fresh.ticks) == (0, 0, ())  # type: ignore[union-attr]
    pool = v3_pool(net.chain, address)
    net.chain.transact(pool, "initialize", sqrt_ratio_at_tick(-70_000))
    periphery = net.chain.contract(net.manifest["periphery"], own_artifact("DevnetPeriphery")["abi"])
    net.chain.transact(periphery, "mintV3", address, -70_500, -69_500, 10**12)
    snap = snapshot_pools(net.chain, infos.infos, net.chain.block_number())
    assert snap.states == {address: read_v3(net.chain, address, 8)}
    assert [t.tick for t in snap.states[address].ticks] == [-70_500, -69_500]  # type: ignore[union-attr]
