"""A simulator run recorded through collector-evm's follower into the archive, replayed into a
strategy node: the same opportunities as the strategy that read the live ring, byte for byte.

What is compared: the value bytes of every published ArbitrageOpportunity and ArbitrageRoute,
in publication order, with three fields zeroed because they are per run by design:
``opportunity_id`` (both TLVs: a counter over the node's start time in ms), ``valid_until_ns``
(the wall clock at publication + valid_ms) and ``confidence_bps`` (a function of the state's
age on the wall clock at evaluation). Not compared: the frame header (sequence, timestamp,
CRC32: the publisher's) and TraceContext TLVs (wall-clock spans). Every other byte (amounts,
profit, gas, blocks, pools, tokens, lender, the packed FlashArbitrage trade) must be equal.
"""

from __future__ import annotations

import json
import time

import pytest

from contracts.simulator.runner import Options, Simulator, set_automine
from mesh.cli import main
from mesh.protocol import ArbitrageOpportunity
from mesh.protocol.messages import ArbitrageRoute
from nodes.archiver.commands import archive_stats
from nodes.archiver.read import iter_archive
from nodes.runtime.testing import NodeHarness
from shm.inspect import ring_info
from shm.writer import RingWriter
from tests.nodes.strategy.pipeline import Stream

pytestmark = pytest.mark.chain

#: No time budgets: the same input sizes the same way however busy the machine is.
STRATEGY = {"max_sizing_ms": 600_000, "max_pass_ms": 600_000}


def compared(h: NodeHarness) -> list[bytes]:
    """The compared bytes of each published opportunity (see the module docstring)."""
    out = []
    for d in h.deliveries:
        tlvs = d.frame.tlvs
        if not tlvs or type(tlvs[0]) is not ArbitrageOpportunity:
            continue
        opp, route = tlvs[0], tlvs[1]
        assert type(route) is ArbitrageRoute
        out.append(opp.replace(opportunity_id=0, valid_until_ns=0, confidence_bps=0).encode_value()
                   + route.replace(opportunity_id=0).encode_value())
    return out


def settle(h: NodeHarness, ring: RingWriter) -> list[bytes]:
    """Wait until ``h`` read all of ``ring`` and its publications stop coming (1 s quiet)."""
    pid = h.proc.pid if h.proc else -1
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        info = ring_info(ring.name)
        if any(r.pid == pid and r.lag_frames == 0 for r in info.readers):
            break
        time.sleep(0.05)
    return quiet(h)


def quiet(h: NodeHarness) -> list[bytes]:
    """Collect until 1 s passes without a new opportunity (heartbeats do not count)."""
    seen = -1
    while seen != len(compared(h)):
        seen = len(compared(h))
        h.collect(timeout=1.0)
    return compared(h)


def test_replayed_archive_yields_the_live_opportunities_byte_for_byte(net, tmp_path, unique_name,
                                                                      capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(net.manifest))
    settings = {"manifest": str(manifest), "recipient": net.recipient, **STRATEGY}
    stream = Stream(net)
    stream.follower.start()
    try:
        Simulator(net.chain, net.manifest, Options(out=tmp_path / "truth.jsonl", block_time=0.2,
                                                   rate=20.0, inject_rate=30.0, seed=7,
                                                   blocks=4)).run()
    finally:
        set_automine(net.chain, True)
    stream.follower.catch_up()
    frames = stream.new_frames()
    archive = tmp_path / "archive"
    shared = {"deadline_ms": 0, "ring_namespace": unique_name}
    # live: the archiver and a strategy read the collector's ring at once
    with NodeHarness("archiver", settings={"path": str(archive), "batch_ms": 50},
                     mesh=shared) as arch, \
            NodeHarness("strategy", settings=settings, mesh=shared, start_timeout=180) as live:
        ring = RingWriter.create("market-data", "collector-evm", namespace=unique_name,
                                 capacity=1 << 23)
        try:
            live.wait_ring_reader(ring)
            arch.wait_ring_reader(ring)
            for f in frames:
                assert ring.write(f)
            expected = settle(live, ring)
            assert arch.stop() == 0
        finally:
            ring.unlink()
            ring.close()
    assert expected, "the live strategy found nothing on the simulated market"
    archived = [f.frame for f in iter_archive(archive, domains=["market-data"])]
    assert archived == frames
    stats = archive_stats(str(archive))
    assert stats["ratio"] > 1
    print(f"archive: {len(frames)} frames, ratio {stats['ratio']}, {len(expected)} opportunities")

    # replayed: `alphapulse replay` into a fresh strategy node, as fast as it goes
    with NodeHarness("strategy", settings=settings, mesh={"deadline_ms": 0},
                     start_timeout=180) as h:
        assert main(["replay", str(archive), "--config", str(h.config_path), "--speed", "max",
                     "--readers", "1", "--linger", "60", "--domains", "market-data"]) == 0
        assert f"replayed {len(frames)} frames ({len(frames)} into rings" in \
            capsys.readouterr().out
        h.collect(lambda ds: len(compared(h)) >= len(expected), timeout=60)
        got = quiet(h)
        assert got == expected, (h.log()[-2000:], [x for x in h.metrics().splitlines()
                                                  if "ring" in x and not x.startswith("#")])
