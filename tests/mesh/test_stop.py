"""Emergency stop: latched in heartbeats for slow and late joiners; dead man's switch; kill flag."""

from __future__ import annotations

import time

import zmq

from mesh.protocol import EmergencyStop
from mesh.pubsub import Subscriber
from mesh.stop import StopGuard, encode_control_stop
from mesh.topics import prefix
from nodes.risk import RiskNode

SYSTEM = [prefix(4)]


def _control(ctx, cfg, stop: EmergencyStop) -> bytes:
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    try:
        sock.connect(cfg.node("risk").service)
        sock.send(encode_control_stop(stop))
        assert sock.poll(5000), "risk did not answer"
        return sock.recv()
    finally:
        sock.close(0)


def _halted_within(sub: Subscriber, guard: StopGuard, seconds: float) -> str | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        d = sub.recv(50)
        if d is not None:
            guard.observe(d.frame, d.topic.publisher)
        if guard.halted():
            return guard.reason()
    return None


def test_slow_and_late_joiners_both_learn_the_latched_stop(mesh, runtime_thread):
    cfg, ctx = mesh
    with runtime_thread(RiskNode, cfg):
        # Slow joiner: connects at the moment the stop is raised (the EmergencyStop message
        # itself may be lost to it). Late joiner: connects well after the stop.
        slow = Subscriber(ctx, cfg, ["risk"], SYSTEM)
        assert _control(ctx, cfg, EmergencyStop(latched=1, stop_id=77, reason="test")) == b"OK 77"
        time.sleep(0.5)
        late = Subscriber(ctx, cfg, ["risk"], SYSTEM)
        try:
            for sub in (slow, late):
                guard = StopGuard(deadline_ns=0)
                reason = _halted_within(sub, guard, 3.0)
                # Accepted outcome: halted within a few heartbeat intervals (100 ms), by stop 77.
                assert reason is not None and "77" in reason
        finally:
            slow.close()
            late.close()


def test_resume_releases_every_guard_even_if_the_resume_message_is_missed(mesh, runtime_thread):
    cfg, ctx = mesh
    with runtime_thread(RiskNode, cfg):
        _control(ctx, cfg, EmergencyStop(latched=1, stop_id=5, reason="x"))
        sub = Subscriber(ctx, cfg, ["risk"], [prefix(4, 113)])  # heartbeats only
        guard = StopGuard(deadline_ns=0)
        try:
            assert _halted_within(sub, guard, 3.0) is not None
            _control(ctx, cfg, EmergencyStop(latched=0))
            deadline = time.monotonic() + 3
            while guard.halted():
                d = sub.recv(50)
                if d is not None:
                    guard.observe(d.frame, d.topic.publisher)
                assert time.monotonic() < deadline, "resume never seen"
        finally:
            sub.close()


def test_dead_mans_switch_trips_when_the_risk_heartbeat_stops(mesh, runtime_thread):
    cfg, ctx = mesh
    sub = Subscriber(ctx, cfg, ["risk"], SYSTEM)
    guard = StopGuard(deadline_ns=400_000_000)
    try:
        assert guard.halted(), "never heard from risk: halted"
        t = runtime_thread(RiskNode, cfg)
        with t:
            deadline = time.monotonic() + 5
            while guard.halted():
                d = sub.recv(50)
                if d is not None:
                    guard.observe(d.frame, d.topic.publisher)
                assert time.monotonic() < deadline, "risk heartbeat never opened the switch"
            t.stop()
        stopped = time.monotonic()
        reason = _halted_within(sub, guard, 3.0)
        assert reason is not None and "dead man" in reason
        # Accepted: trips after the 400 ms deadline, not before.
        assert time.monotonic() - stopped >= 0.3
        assert guard.switch.trips == 1
    finally:
        sub.close()
