"""CURVE end to end: the real node runtime in a subprocess, ``curve = true``, tcp endpoints.

Accepted outcomes: a client with a listed key hears the node's heartbeats (and the node hears
a listed feeder, and answers control and recovery over CURVE); a client whose key is not
listed hears nothing, even knowing the node's public key; secret key files are 0600.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from dataclasses import replace

import zmq

from mesh.protocol import EmergencyStop, ExecutionResult, Heartbeat, RiskAlert
from mesh.protocol.constants import ExecutionStatus
from mesh.pubsub import Subscriber
from mesh.security import Security, generate_keys
from nodes.runtime.testing import NodeHarness


def _heard(cfg, identity: str, node: str, seconds: float) -> int:
    """Heartbeats of ``node`` a fresh subscriber speaking as ``identity`` hears in ``seconds``."""
    ctx = zmq.Context()
    sec = Security(cfg, identity)
    sub = Subscriber(ctx, cfg, [node], [b""], secure=sec.client, recover_types=())
    try:
        got = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            d = sub.recv(100)
            if d is not None and d.frame.first(Heartbeat) is not None:
                got += 1
        return got
    finally:
        sub.close()
        ctx.destroy(linger=0)


def test_node_over_curve_tcp_talks_to_listed_keys_only():
    with NodeHarness("risk", curve=True, settings={"max_consecutive_failures": 1}) as h:
        node = h.cfg.node(h.name)
        assert node.pub.startswith("tcp://") and node.service.startswith("tcp://")
        # The harness's collector (a listed key) heard the first heartbeat; more keep coming.
        h.wait_for(Heartbeat, count=3, timeout=5)
        # Key files: secret 0600, directory 0700.
        keys = h.cfg.keys_path
        assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
        for name in (h.name, "feeder"):
            assert stat.S_IMODE(os.stat(keys / f"{name}.key_secret").st_mode) == 0o600
        # The node hears the listed feeder over CURVE and answers control over CURVE.
        h.feed(ExecutionResult(status=ExecutionStatus.REVERTED, strategy_id=3))
        h.wait_for(RiskAlert, timeout=5)
        assert h.control(EmergencyStop(latched=0)).startswith(b"OK")
        h.assert_contract()
        # A fresh client with a listed key hears heartbeats.
        assert _heard(h.cfg, "feeder", h.name, 1.5) > 0
        # A client whose key pair is not listed hears nothing, although it pins the node's
        # real public key (the node's ZAP handler refuses the handshake).
        rogue_dir = h.run_dir / "rogue"
        generate_keys(rogue_dir, "intruder")
        shutil.copy(keys / f"{h.name}.key", rogue_dir / f"{h.name}.key")
        assert stat.S_IMODE(os.stat(rogue_dir / "intruder.key_secret").st_mode) == 0o600
        rogue = replace(h.cfg, keys_dir=str(rogue_dir))
        assert _heard(rogue, "intruder", h.name, 1.5) == 0
        # A plain (non-CURVE) client hears nothing either.
        ctx = zmq.Context()
        try:
            plain = ctx.socket(zmq.SUB)
            plain.linger = 0
            plain.setsockopt(zmq.SUBSCRIBE, b"")
            plain.connect(node.pub)
            assert not plain.poll(1000)
            plain.close(0)
        finally:
            ctx.destroy(linger=0)
        assert h.stop() == 0
