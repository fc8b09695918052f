"""CURVE on tcp: listed keys talk; an unlisted publisher is never heard; an unlisted client is refused."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace

import zmq

from mesh.protocol import RiskAlert
from mesh.pubsub import Publisher, Subscriber
from mesh.security import Security, generate_keys
from nodes.runtime.testing import free_port, private_mesh, short_dir


def _setup(d):
    _, cfg = private_mesh(d, ["a", "b"], curve=True)
    nodes = {n: replace(cfg.nodes[n], pub=f"tcp://127.0.0.1:{free_port()}") for n in cfg.nodes}
    cfg = replace(cfg, nodes=nodes)
    for name in ("a", "b"):
        generate_keys(cfg.keys_path, name)
    rogue_dir = d / "rogue"
    generate_keys(rogue_dir, "a")  # same name, unlisted key
    generate_keys(rogue_dir, "b")
    return cfg, replace(cfg, keys_dir=str(rogue_dir))


def _received(pub: Publisher, sub: Subscriber, seconds: float) -> int:
    got = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pub.publish([RiskAlert(alert_id=1)])
        if sub.recv(50) is not None:
            got += 1
    return got


def _pair(cfg_pub, cfg_sub, check):
    ctx = zmq.Context()
    sec_pub, sec_sub = Security(cfg_pub, "a"), Security(cfg_sub, "b")
    sec_pub.start_authenticator(ctx)
    pub = Publisher(ctx, cfg_pub, "a", source=41, secure=sec_pub.server)
    sub = Subscriber(ctx, cfg_sub, ["a"], [b""], secure=sec_sub.client, recover_types=())
    try:
        return check(pub, sub)
    finally:
        sub.close()
        pub.close()
        sec_pub.stop_authenticator()
        ctx.destroy(linger=0)


def test_listed_keys_talk():
    with short_dir() as d:
        cfg, _ = _setup(d)
        assert _pair(cfg, cfg, lambda p, s: _received(p, s, 3.0)) > 0


def test_unlisted_publisher_is_never_heard():
    with short_dir() as d:
        cfg, rogue = _setup(d)
        # The rogue binds a's endpoint with an unlisted key pair; b pins a's listed key.
        assert _pair(rogue, cfg, lambda p, s: _received(p, s, 1.0)) == 0


def test_unlisted_client_is_refused_by_zap():
    with short_dir() as d:
        cfg, rogue = _setup(d)
        # The client b uses an unlisted key pair (but knows a's real public key).
        rogue_client = replace(rogue, keys_dir=str(rogue.keys_path))
        shutil.copy(cfg.keys_path / "a.key", rogue.keys_path / "a.key")
        assert _pair(cfg, rogue_client, lambda p, s: _received(p, s, 1.0)) == 0
