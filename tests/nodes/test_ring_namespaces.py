"""A node reads the rings of extra ring namespaces (``ring_namespaces``), and writes its own in
``ring_namespace``: the configuration, the batches' origin, the counters' labels."""

from __future__ import annotations

import os

import pytest

from alphapulse.errors import ConfigError
from mesh.config import load_config
from mesh.protocol import Trade, decode_frame
from mesh.protocol.constants import RelayDomain
from mesh.rings import DomainReaders, RingBatch
from mesh.stats import MeshStats
from nodes.runtime.rings import NodeRings
from nodes.runtime.testing import NodeHarness
from shm.segment import list_ring_names, unlink
from shm.writer import RingWriter

from .ring_nodes import TradeRelay

RELAY = "tests.nodes.ring_nodes:TradeRelay"


@pytest.fixture
def two_ns(unique_name):
    names = (unique_name + "a", unique_name + "b")
    yield names
    for ns in names:
        for ring in list_ring_names(ns):
            unlink(ring)


def test_ring_namespaces_come_from_toml_lists_and_env_strings_and_default_to_none():
    resolve = TradeRelay.CONTRACT.resolve_settings
    assert resolve({}, "n")["ring_namespaces"] == ()
    assert resolve({}, "n")["ring_namespace"] == ""
    assert resolve({"ring_namespaces": ["b", "c", "b"]}, "n")["ring_namespaces"] == ("b", "c")
    assert resolve({"ring_namespaces": "b, c d"}, "n")["ring_namespaces"] == ("b", "c", "d")
    assert resolve({"ring_namespace": "chain-b"}, "n")["ring_namespace"] == "chain-b"
    cfg = load_config(env={"ALPHAPULSE_NODE_STRATEGY_RING_NAMESPACES": "apb",
                           "ALPHAPULSE_NODE_COLLECTOR_EVM_RING_NAMESPACE": "apb"})
    assert cfg.node("collector-evm").settings == {"ring_namespace": "apb"}
    assert resolve(cfg.node("strategy").settings, "strategy")["ring_namespaces"] == ("apb",)


def test_a_node_whose_name_prefixes_another_takes_only_its_own_environment_keys():
    cfg = load_config(env={"ALPHAPULSE_NODE_COLLECTOR_EVM_B_MANIFEST": "/b.json",
                           "ALPHAPULSE_NODE_COLLECTOR_EVM_MANIFEST": "/a.json"})
    assert cfg.node("collector-evm").settings == {"manifest": "/a.json"}
    assert cfg.node("collector-evm-b").settings == {"manifest": "/b.json"}


@pytest.mark.parametrize("given", [{"ring_namespaces": ["ok", "not.ok"]},
                                   {"ring_namespaces": 7}, {"ring_namespace": "a b"},
                                   {"ring_namespace": ["a"]}])
def test_a_bad_ring_namespace_is_a_config_error(given):
    with pytest.raises(ConfigError, match="ring namespace"):
        TradeRelay.CONTRACT.resolve_settings(given, "n")


def test_node_rings_read_the_same_writer_name_in_two_namespaces_and_tell_them_apart(two_ns):
    ns_a, ns_b = two_ns
    a = RingWriter.create("market-data", "collector-evm", namespace=ns_a, capacity=1 << 12)
    b = RingWriter.create("market-data", "collector-evm", namespace=ns_b, capacity=1 << 12)
    rings = NodeRings(ns_a, "me", (), (RelayDomain.MARKET_DATA,), 1 << 12, 0, MeshStats(),
                      extra_namespaces=(ns_b, ns_a))
    got: list[tuple[str, str, bytes]] = []

    def sink(batch: RingBatch) -> None:
        got.extend((batch.namespace, batch.writer, f) for f in batch.frames())

    try:
        rings.open()
        rings.discover_now(sink)
        a.write(b"from a")
        b.write(b"from b1")
        b.write(b"from b2")
        rings.poll(0, sink)
        assert sorted(got) == [(ns_a, "collector-evm", b"from a"),
                               (ns_b, "collector-evm", b"from b1"),
                               (ns_b, "collector-evm", b"from b2")]
        counts = {c.ring: c.frames for c in rings.counters()}
        assert counts == {str(a.name): 1, str(b.name): 2}
    finally:
        rings.close()
        for w in (a, b):
            w.close()


def test_a_node_reads_its_extra_namespace_and_writes_in_its_own_ring_namespace(two_ns):
    ns_b, ns_own = two_ns
    with NodeHarness(RELAY, settings={"ring_namespaces": [ns_b],
                                      "ring_namespace": ns_own}) as h:
        h.feed_ring(Trade(asset_id=1, price=10, volume=1, venue=1), namespace=ns_own)
        h.feed_ring(Trade(asset_id=1, price=20, volume=1, venue=1), namespace=ns_b)
        own = [r for r in list_ring_names(ns_own) if r.writer == h.name]
        assert [r.domain for r in own] == ["market-data"]
        assert not [r for r in list_ring_names(h.cfg.ring_namespace) if r.writer == h.name]

        readers = DomainReaders(ns_own, RelayDomain.MARKET_DATA, writers=frozenset({h.name}))
        prices: list[int] = []

        def keep(batch: RingBatch) -> None:
            prices.extend(decode_frame(f).tlvs[0].price for f in batch.frames())

        def relayed(_: object) -> bool:
            readers.discover(keep)
            readers.drain(keep)
            return len(prices) >= 2

        try:
            h.collect(relayed, timeout=30)
        finally:
            readers.close()
        assert sorted(prices) == [10, 20]
        feeder_a = str(h.ring_feeder(namespace=ns_own).name)
        feeder_b = str(h.ring_feeder(namespace=ns_b).name)
        assert feeder_a != feeder_b
        assert h.metric("alphapulse_ring_frames_read_total", ring=feeder_a) == 1
        assert h.metric("alphapulse_ring_frames_read_total", ring=feeder_b) == 1


def test_status_counts_a_nodes_ring_in_another_namespace_and_no_stranger(two_ns):
    from nodes.runtime.cli.status import ring_rows
    ns_own, ns_b = two_ns
    mine = RingWriter.create("market-data", "collector-evm-b", namespace=ns_b, capacity=1 << 12)
    stranger = RingWriter.create("market-data", "other", namespace=ns_b, capacity=1 << 12)
    try:
        mine.write(b"x")
        rows = ring_rows(ns_own, {os.getpid(): "collector-evm-b"})
        assert [(r["ring"], r["frames"]) for r in rows["collector-evm-b"]] == [
            (str(mine.name), 1)]
        assert "other" not in rows
    finally:
        for w in (mine, stranger):
            w.close()
