"""The follower's frames, applied by the reference replica, hold exactly what the chain holds."""

from __future__ import annotations

from contracts.events import registry_from_manifest
from contracts.factories import factories_from_manifest
from nodes.collector_evm.follower import ChainFollower
from tests.nodes.collector_evm.activity import Activity
from tests.nodes.collector_evm.chainstate import ALL_WORDS, mismatches
from tests.nodes.collector_evm.recorder import Recorder


def test_replica_of_the_stream_equals_the_chain_after_random_activity(net):
    registry = registry_from_manifest(net.manifest)
    rec = Recorder()
    follower = ChainFollower(net.chain, registry, factories_from_manifest(net.manifest), rec.sink,
                             rec.count, word_radius=ALL_WORDS)
    start = follower.start()
    assert mismatches(net.chain, rec.replica, registry, start.number) == []
    activity = Activity(net.chain, net.manifest, seed=7)
    for round_ in range(12):
        for _ in range(6):
            activity.step()
        activity.burst(8)
        follower.catch_up()
        assert rec.replica.block == net.chain.block_number()
        assert mismatches(net.chain, rec.replica, registry, rec.replica.block) == [], f"round {round_}"
    assert rec.errors == []
