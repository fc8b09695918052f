"""Reorgs: the follower invalidates what it wrote on the abandoned branch and ends up exact.

Reorgs are made with anvil's own RPCs: ``evm_snapshot``/``evm_revert`` then other transactions
(a shorter or a longer replacement branch), and ``anvil_reorg`` (the last blocks replaced).
"""

from __future__ import annotations

import pytest

from contracts.events import registry_from_manifest
from contracts.factories import factories_from_manifest
from mesh.protocol import decode_frame
from mesh.protocol.constants import InvalidationReason
from mesh.protocol.messages import PoolInvalidation
from nodes.collector_evm.follower import ChainFollower
from tests.nodes.collector_evm.activity import Activity
from tests.nodes.collector_evm.chainstate import ALL_WORDS, mismatches
from tests.nodes.collector_evm.recorder import Recorder


def _follower(net, rec: Recorder) -> ChainFollower:
    return ChainFollower(net.chain, registry_from_manifest(net.manifest), factories_from_manifest(net.manifest),
                         rec.sink, rec.count, word_radius=ALL_WORDS)


def _invalidations(rec: Recorder) -> list[PoolInvalidation]:
    return [t for raw in rec.frames for t in decode_frame(raw).tlvs if isinstance(t, PoolInvalidation)]


@pytest.mark.parametrize(("old_blocks", "new_blocks"), [(6, 3), (3, 6), (4, 4)])
def test_revert_to_a_snapshot_and_other_blocks_is_undone_exactly(net, old_blocks, new_blocks):
    registry = registry_from_manifest(net.manifest)
    rec = Recorder()
    follower = _follower(net, rec)
    follower.start()
    fork = net.chain.snapshot()
    fork_block = net.chain.block_number()
    old = Activity(net.chain, net.manifest, seed=21)
    for _ in range(old_blocks):
        old.burst(4)
    follower.catch_up()
    assert mismatches(net.chain, rec.replica, registry, rec.replica.block) == []
    net.chain.revert_to(fork)
    new = Activity(net.chain, net.manifest, seed=22)
    for _ in range(new_blocks):
        new.burst(4)
    follower.catch_up()
    head = net.chain.block_number()
    assert rec.replica.block == head == fork_block + new_blocks
    assert mismatches(net.chain, rec.replica, registry, head) == []
    stale = _invalidations(rec)
    assert stale and {m.reason for m in stale} == {InvalidationReason.REORG}
    assert {m.block_number for m in stale} == {fork_block}
    assert rec.errors.count("reorg") >= 1


def test_anvil_reorg_of_the_last_blocks_is_undone_exactly(net):
    registry = registry_from_manifest(net.manifest)
    rec = Recorder()
    follower = _follower(net, rec)
    follower.start()
    activity = Activity(net.chain, net.manifest, seed=31)
    for _ in range(5):
        activity.burst(3)
    follower.catch_up()
    before = net.chain.head("latest")
    net.chain.rpc("anvil_reorg", [3, []])  # the last 3 blocks replaced by empty ones
    after = net.chain.head("latest")
    assert after.number == before.number and after.hash != before.hash
    follower.catch_up()
    assert rec.replica.block == after.number
    assert rec.replica.block_ends[-1].block_hash == after.hash
    assert mismatches(net.chain, rec.replica, registry, after.number) == []
    assert {m.block_number for m in _invalidations(rec)} == {before.number - 3}
