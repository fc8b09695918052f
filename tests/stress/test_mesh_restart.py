"""A publisher killed with SIGKILL mid-stream and restarted; late joiners during a stop.

Accepted outcomes:
  * restart: the subscriber (this process) counts exactly one restart and no gap for it
    (whatever sequence of the new run it first sees: behind or ahead of the old run's last),
    delivers no duplicate, and continues with the new run: its ids increase from where the subscriber rejoined, and
    ids delivered from the new run + frames counted missed and not recovered == the new run's
    last id seen (frames the new run sent before the subscriber reconnected are recovered
    from its journal or counted);
  * late joiners: each subscriber process started while a stop is latched is halted by that
    stop within a few heartbeat intervals; after the resume each is released.
Children run under "spawn"; every wait is bounded; the fixture kills every child and removes
the run directory, also on failure.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

import pytest
import zmq

from mesh.protocol import EmergencyStop, ExecutionResult
from mesh.pubsub import Subscriber
from mesh.sequence import Verdict
from mesh.topics import prefix
from nodes.runtime.testing import NodeHarness, private_mesh, short_dir

CTX = mp.get_context("spawn")
WAIT_S = 20.0


def _publisher(config: str, ready) -> None:
    """Publish ExecutionResult ids 1, 2, ... every millisecond; serve recovery; forever."""
    from mesh.config import load_config
    from mesh.pubsub import Publisher, prepare_endpoint

    cfg = load_config(config, env={})
    ctx = zmq.Context()
    pub = Publisher(ctx, cfg, "p1", source=42)
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    prepare_endpoint(cfg.node("p1").service)
    router.bind(cfg.node("p1").service)
    ready.set()
    i = 0
    while True:
        i += 1
        pub.publish([ExecutionResult(opportunity_id=i, strategy_id=1)])
        while router.poll(1):
            ident, *body = router.recv_multipart()
            router.send_multipart([ident, *pub.journal.serve(body)])


@pytest.fixture
def mesh_dir():
    procs: list = []
    with short_dir("apst-") as d:
        try:
            yield d, procs
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()
                p.join(2)


def _start(procs: list, target, *args):
    ready = CTX.Event()
    p = CTX.Process(target=target, args=(*args, ready), daemon=True)
    p.start()
    procs.append(p)
    assert ready.wait(WAIT_S), f"{target.__name__} did not start"
    return p


def test_publisher_killed_and_restarted_subscriber_counts_restart_and_continues(mesh_dir):
    d, procs = mesh_dir
    config, cfg = private_mesh(d, ["p1"], recovery_timeout_ms=1000)
    ctx = zmq.Context()
    sub = Subscriber(ctx, cfg, ["p1"], [prefix(3, 50)], lazy=True)
    try:
        first = _start(procs, _publisher, str(config))
        old: list[int] = []
        deadline = time.monotonic() + WAIT_S
        while len(old) < 100:
            assert time.monotonic() < deadline, "first run never delivered"
            if (dv := sub.recv(100)) is not None:
                old.append(dv.frame.tlvs[0].opportunity_id)
                old_run = dv.topic.run
        os.kill(first.pid, signal.SIGKILL)
        first.join(5)
        while sub.recv(100) is not None:  # what was in flight before the kill
            pass
        assert sub.stats.restarts == 0
        drops_before, gaps_before = sub.stats.drops, sub.stats.gaps
        _start(procs, _publisher, str(config))
        new: list[int] = []
        runs: list[int] = []
        deadline = time.monotonic() + WAIT_S
        while len(new) < 100:
            assert time.monotonic() < deadline, f"second run never delivered: {sub.stats}"
            dv = sub.recv(100)
            if dv is None:
                continue
            if not new:
                assert dv.verdict is Verdict.RESTART or dv.recovered
                new_run = dv.topic.run
                assert new_run != old_run
            new.append(dv.frame.tlvs[0].opportunity_id)
            runs.append(dv.topic.run)
        st = sub.stats
        assert st.restarts == 1 and st.duplicates == 0
        assert st.gaps == gaps_before, "the restart passed for a gap"
        assert set(runs) == {new_run}
        assert new == sorted(set(new))
        assert len(new) + (st.drops - drops_before) == new[-1]
    finally:
        sub.close()
        ctx.destroy(0)


def _late_joiner(config: str, results, release, ready) -> None:
    """Join now, report how the stop guard sees the mesh: halted, then released."""
    from mesh.config import load_config
    from mesh.stop import StopGuard

    cfg = load_config(config, env={})
    ctx = zmq.Context()
    sub = Subscriber(ctx, cfg, ["risk"], [prefix(4)], lazy=True)
    guard = StopGuard(deadline_ns=0)
    ready.set()
    t0 = time.monotonic()

    def wait(halted: bool) -> float | None:
        deadline = time.monotonic() + WAIT_S / 2
        while time.monotonic() < deadline:
            dv = sub.recv(50)
            if dv is not None:
                guard.observe(dv.frame, dv.topic.publisher)
            if guard.halted() == halted:
                return time.monotonic() - t0
        return None

    results.put(("halted", wait(True), guard.reason()))
    release.wait(WAIT_S)
    results.put(("released", wait(False), guard.reason()))
    sub.close()
    ctx.destroy(0)


def test_late_joiners_during_a_stop_learn_the_latch_from_the_next_heartbeat():
    procs: list = []
    with NodeHarness("risk", mesh={"heartbeat_ms": 100}) as h:
        try:
            assert h.control(EmergencyStop(latched=1, stop_id=99, reason="stress")) == b"OK 99"
            results, release = CTX.Queue(), CTX.Event()
            for _ in range(3):
                _start(procs, _late_joiner, str(h.config_path), results, release)
                time.sleep(0.15)  # staggered: each joins at a different point of the beat
            halted = [results.get(timeout=WAIT_S) for _ in range(3)]
            for kind, took, reason in halted:
                # Learned from the latch in a heartbeat: within a few 100 ms intervals.
                assert kind == "halted" and took is not None and took < 2.0, (took, reason)
                assert "99" in reason
            assert h.control(EmergencyStop(latched=0)) == b"OK 99"
            release.set()
            released = [results.get(timeout=WAIT_S) for _ in range(3)]
            assert all(kind == "released" and took is not None for kind, took, _ in released)
        finally:
            for p in procs:
                p.join(5)
                if p.is_alive():
                    p.kill()
                    p.join(2)
