"""Hostile answers from the JSON-RPC node: counted by kind, never a crash, never a wrong frame.

The chain is the worker's real anvil behind a client that tampers with chosen ``eth_getLogs``
answers (a log from an unknown address, a malformed log, a value out of range, an error object),
as a broken or hostile node would send them.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from contracts.client import Chain
from contracts.events import V2_SYNC, registry_from_manifest
from contracts.factories import factories_from_manifest
from contracts.logs import LogFilter
from mesh.protocol import decode_frame
from mesh.protocol.constants import InvalidationReason
from mesh.protocol.messages import PoolInvalidation, PoolSync
from nodes.collector_evm.follower import ChainFollower
from nodes.collector_evm.transport import FollowerThread
from tests.devnet_fixtures import TEST_RPC_TIMEOUT_S
from tests.nodes.collector_evm.activity import Activity
from tests.nodes.collector_evm.chainstate import ALL_WORDS, mismatches
from tests.nodes.collector_evm.recorder import Recorder

STRANGER = "0x" + "ab" * 20
TOO_BIG = (2**112).to_bytes(32, "big")


def _fake_log(real: dict[str, Any], **changes: Any) -> dict[str, Any]:
    log = dict(real)
    log.update(changes)
    return log


class HostileChain(Chain):
    """Anvil, except that the first ``eth_getLogs`` answer holding a V2 Sync is tampered with."""

    def __init__(self, url: str, tamper: str) -> None:
        super().__init__(url, timeout=TEST_RPC_TIMEOUT_S)
        self.tamper = tamper
        self.done = False

    def rpc_batch(self, requests, *, errors=False):
        answers = super().rpc_batch(requests, errors=errors)
        at = next((i for i, (method, _) in enumerate(requests) if method == "eth_getLogs"), None)
        if self.done or at is None:
            return answers
        logs = answers[at]
        syncs = [log for log in logs if log["topics"][0] == "0x" + V2_SYNC.hex()]
        if not syncs:
            return answers
        self.done = True
        real = syncs[0]
        if self.tamper == "unknown_pool":
            answers[at] = [*logs, _fake_log(logs[-1], address=STRANGER, topics=real["topics"], data=real["data"],
                                            logIndex=hex(int(logs[-1]["logIndex"], 16) + 1))]
        elif self.tamper == "out_of_range":
            answers[at] = [_fake_log(log, data="0x" + (TOO_BIG * 2).hex()) if log is real else log for log in logs]
        elif self.tamper == "malformed":
            answers[at] = [{k: v for k, v in log.items() if k != "topics"} if log is real else log for log in logs]
        elif self.tamper == "rpc_error":
            raise self._error()
        elif self.tamper == "library_bug":
            raise ValueError("a surprise from below the chain client")
        return answers

    @staticmethod
    def _error():
        from contracts.answers import RpcError
        return RpcError("eth_getLogs", -32000, "header not found")


@pytest.mark.parametrize(("tamper", "kind"), [("unknown_pool", "unknown_pool"), ("out_of_range", "out_of_range"),
                                              ("malformed", "bad_rpc_answer"), ("rpc_error", "rpc_error"),
                                              ("library_bug", "follower_error")])
def test_hostile_log_answer_is_counted_and_the_stream_stays_exact(net, tamper, kind):
    registry = registry_from_manifest(net.manifest)
    chain = HostileChain(net.chain.url, tamper)
    rec = Recorder()
    counted: list[str] = []
    follower = ChainFollower(chain, registry, factories_from_manifest(net.manifest), rec.sink, rec.count,
                             word_radius=ALL_WORDS)
    thread = FollowerThread(follower, ws_url="", logs=LogFilter(), count=lambda k, _: counted.append(k),
                            poll_interval_s=0.05, backoff_min_s=0.05)
    thread.start()
    try:
        # The lie must reach a follower that has written state (on a busy machine the first
        # Sync could otherwise land in the initial catch-up, where there is nothing to undo).
        deadline = time.monotonic() + 60
        while not follower.synced and time.monotonic() < deadline:
            time.sleep(0.02)
        assert follower.synced, "the follower never finished its first read"
        activity = Activity(net.chain, net.manifest, seed=61)
        for _ in range(6):
            activity.burst(4)
        head = net.chain.block_number()
        deadline = time.monotonic() + 60
        while rec.replica.block != head and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        thread.stop()
    assert chain.done, "the tamper never fired"
    assert kind in rec.errors + counted
    assert rec.replica.block == head
    assert mismatches(net.chain, rec.replica, registry, head) == []
    tlvs = [t for raw in rec.frames for t in decode_frame(raw).tlvs]
    assert all(t.pool_address != bytes.fromhex(STRANGER[2:]) for t in tlvs if hasattr(t, "pool_address"))
    assert all(t.reserve0 < 2**112 and t.reserve1 < 2**112 for t in tlvs if isinstance(t, PoolSync))
    if tamper == "out_of_range":  # the pool whose log lied was forgotten, then read again
        assert {m.reason for m in tlvs if isinstance(m, PoolInvalidation)} == {InvalidationReason.BAD_STATE}
    if tamper in ("malformed", "rpc_error", "library_bug"):  # the whole block was unusable: every pool re-read
        assert {m.reason for m in tlvs if isinstance(m, PoolInvalidation)} == {InvalidationReason.DISCONNECTION}
