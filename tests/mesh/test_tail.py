"""Tails and late joiners: journaled frames lost with no later frame, recovered from heartbeats.

Accepted outcome in every case: each journaled frame delivered exactly once, in stream order,
within a bounded time, although nothing more is ever published on that stream (only the
publisher's heartbeats go on).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
import zmq

from mesh.protocol import (
    EmergencyStop,
    Heartbeat,
    RecoveryRequest,
    RiskAlert,
    decode_frame,
    encode_frame,
)
from mesh.pubsub import Publisher, Subscriber
from mesh.recovery import RETRANSMIT, SNAPSHOT, BadRecoveryRequest, Journal
from mesh.sequence import Verdict
from mesh.topics import prefix, run_prefix, stream_prefix
from nodes.runtime.testing import NodeHarness

BOUND_S = 60.0  # waits end on their condition: heartbeat 100 ms + a snapshot and a retransmit
# round trip take milliseconds; a loaded 2-core CI host can stall a thread for seconds
BEATS = prefix(int(Heartbeat.DOMAIN), int(Heartbeat.TLV_TYPE))


class _BeatingPublisher(threading.Thread):
    """Owns a publisher and its service ROUTER: publishes ``before``, then on ``go`` a burst of
    ``burst`` RiskAlerts (ids ``before+1...``), then nothing but a heartbeat every 100 ms."""

    def __init__(self, cfg, ctx, *, before: int = 0, burst: int = 0) -> None:
        super().__init__(daemon=True)
        self.cfg, self.ctx, self.before, self.burst = cfg, ctx, before, burst
        self.go = threading.Event()
        self.sent = threading.Event()  # the burst has been handed to the PUB socket
        self.done = threading.Event()
        self.ready = threading.Event()
        self.snapshots = 0
        self.run_id = 0
        self.trickle = 0  # on go: publish ids 1..trickle, ten per loop pass, beating meanwhile

    def run(self) -> None:
        pub = Publisher(self.ctx, self.cfg, "a", source=42)
        self.run_id = pub.run
        router = self.ctx.socket(zmq.ROUTER)
        router.linger = 0
        router.bind(self.cfg.node("a").service)
        try:
            for i in range(1, self.before + 1):
                pub.publish([RiskAlert(alert_id=i)], key=7)
            self.ready.set()
            next_beat = 0.0
            burst_sent = False
            sent = 0
            while not self.done.is_set():
                if self.trickle and self.go.is_set() and sent < self.trickle:
                    for _ in range(10):
                        sent += 1
                        pub.publish([RiskAlert(alert_id=sent)], key=7)
                if not burst_sent and self.go.is_set():
                    for i in range(self.before + 1, self.before + self.burst + 1):
                        pub.publish([RiskAlert(alert_id=i)], key=7)
                    burst_sent = True
                    self.sent.set()
                now = time.monotonic()
                if now >= next_beat:
                    pub.publish([Heartbeat(node="a", frames_out=pub.stats.frames_out)], key=0)
                    next_beat = now + 0.1
                if router.poll(10):
                    ident, *body = router.recv_multipart()
                    self.snapshots += _is_snapshot(body)
                    router.send_multipart([ident, *pub.journal.serve(body)])
        finally:
            router.close(0)
            pub.close()


def _is_snapshot(body: list[bytes]) -> bool:
    return decode_frame(body[0]).first(RecoveryRequest).request_type == SNAPSHOT


def _alert_ids(sub: Subscriber, want: int, seconds: float) -> tuple[list[int], float]:
    """Receive RiskAlert ids until ``want`` is seen or ``seconds`` pass; also the time taken."""
    ids: list[int] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds and (not ids or ids[-1] != want):
        d = sub.recv(100)
        if d is not None and d.topic.tlv_type == RiskAlert.TLV_TYPE:
            ids.append(d.frame.tlvs[0].alert_id)
    return ids, time.monotonic() - t0


def test_lost_tail_is_recovered_from_the_next_heartbeat_exactly_once_in_order(mesh):
    cfg, ctx = mesh
    cfg = replace(cfg, sndhwm=5, rcvhwm=5, journal_size=50_000)
    count = 20_000
    p = _BeatingPublisher(cfg, ctx, burst=count)
    p.start()
    assert p.ready.wait(BOUND_S)
    sub = Subscriber(ctx, cfg, ["a"], [prefix(2, RiskAlert.TLV_TYPE)])
    try:
        deadline = time.monotonic() + BOUND_S
        while "a" not in sub.tail.beats and time.monotonic() < deadline:
            sub.recv(50)  # heartbeats are heard (and swallowed): the SUB has joined
        assert "a" in sub.tail.beats, "never heard a heartbeat"
        p.go.set()
        assert p.sent.wait(BOUND_S)  # the burst overflowed both high-water marks: we did not read
        ids, took = _alert_ids(sub, count, BOUND_S)
        assert ids == list(range(1, count + 1)), \
            f"exactly once, in order; got {len(ids)}, last {ids[-3:]}"
        st = sub.stats
        assert st.recovered >= 1, "the tail was lost and must have been recovered"
        assert st.recovered == st.missed and st.drops == 0 and st.duplicates == 0
        assert took < BOUND_S
        # Nothing more arrives: no duplicate from a later heartbeat's snapshot.
        more, _ = _alert_ids(sub, -1, 0.5)
        assert more == []
    finally:
        p.done.set()
        p.join(5)
        sub.close()


def test_late_joiner_back_fills_the_journal_without_a_new_frame(mesh):
    cfg, ctx = mesh
    p = _BeatingPublisher(cfg, ctx, before=30)
    p.start()
    assert p.ready.wait(BOUND_S)
    sub = Subscriber(ctx, cfg, ["a"], [prefix(2, RiskAlert.TLV_TYPE)], lazy=True)
    try:
        ids, took = _alert_ids(sub, 30, BOUND_S)
        assert ids == list(range(1, 31))
        assert took < BOUND_S
        assert sub.stats.recovered == 30 and sub.stats.drops == 0
        more, _ = _alert_ids(sub, -1, 0.5)
        assert more == [], "a later heartbeat's snapshot must not deliver them again"
    finally:
        p.done.set()
        p.join(5)
        sub.close()


def test_tail_checks_during_a_lossy_live_stream_never_duplicate(mesh):
    """Snapshots race frames in flight (the bound keeps them out); gaps and tails interleave."""
    cfg, ctx = mesh
    cfg = replace(cfg, sndhwm=5, rcvhwm=5, journal_size=50_000)
    p = _BeatingPublisher(cfg, ctx, burst=0)
    p.trickle = 3000
    p.start()
    assert p.ready.wait(BOUND_S)
    sub = Subscriber(ctx, cfg, ["a"], [prefix(2, RiskAlert.TLV_TYPE)])
    try:
        deadline = time.monotonic() + 5
        while "a" not in sub.tail.beats and time.monotonic() < deadline:
            sub.recv(50)
        p.go.set()
        ids: list[int] = []
        t0 = time.monotonic()
        while (not ids or ids[-1] != 3000) and time.monotonic() - t0 < 15:
            d = sub.recv(100)
            if d is not None:
                ids.append(d.frame.tlvs[0].alert_id)
                if len(ids) % 500 == 0:
                    time.sleep(0.3)  # fall behind: the high-water marks overflow
        assert ids == list(range(1, 3001)), f"{len(ids)} ids, last {ids[-3:]}"
        st = sub.stats
        assert st.missed > 0, "the stream must have lost frames to test anything"
        assert st.recovered == st.missed and st.drops == 0 and st.duplicates == 0
    finally:
        p.done.set()
        p.join(5)
        sub.close()


def test_restart_whose_frames_were_all_lost_is_found_by_the_next_heartbeat(mesh):
    """A new run's journaled frames sent while this subscriber was away: no later frame on the
    stream reveals them, and their sequences are behind the old run's; the run tells."""
    cfg, ctx = mesh
    old = _BeatingPublisher(cfg, ctx, before=4)
    old.start()
    assert old.ready.wait(BOUND_S)
    sub = Subscriber(ctx, cfg, ["a"], [prefix(2, RiskAlert.TLV_TYPE)])
    new = None
    try:
        ids, _ = _alert_ids(sub, 4, BOUND_S)
        assert ids == [1, 2, 3, 4]
        old.done.set()
        old.join(5)
        endpoint = cfg.node("a").pub
        sub.socket.disconnect(endpoint)
        new = _BeatingPublisher(cfg, ctx, before=2)  # alerts 1, 2 of the new run: unseen
        new.start()
        assert new.ready.wait(BOUND_S)
        sub.socket.connect(endpoint)
        got = []
        deadline = time.monotonic() + BOUND_S
        while len(got) < 2 and time.monotonic() < deadline:
            if (d := sub.recv(100)) is not None:
                got.append(d)
        assert [d.frame.tlvs[0].alert_id for d in got] == [1, 2]
        assert all(d.recovered for d in got)
        assert {d.topic.run for d in got} == {new.run_id} and new.run_id != old.run_id
        st = sub.stats
        assert (st.restarts, st.duplicates, st.drops) == (1, 0, 0)
        more, _ = _alert_ids(sub, -1, 0.5)
        assert more == [], "exactly once"
    finally:
        old.done.set()
        if new is not None:
            new.done.set()
            new.join(5)
        sub.close()


def _beats_delivered(sub: Subscriber, count: int, seconds: float = BOUND_S) -> int:
    """Receive until ``count`` heartbeats were delivered (proof the SUB is connected)."""
    n = 0
    deadline = time.monotonic() + seconds
    while n < count and time.monotonic() < deadline:
        d = sub.recv(100)
        n += d is not None and d.topic.tlv_type == Heartbeat.TLV_TYPE
    return n


def test_subscriber_without_journaled_types_asks_nothing(mesh):
    cfg, ctx = mesh
    p = _BeatingPublisher(cfg, ctx, before=3)
    p.start()
    assert p.ready.wait(BOUND_S)
    sub = Subscriber(ctx, cfg, ["a"], [prefix(3, 33), BEATS])
    try:
        # Connected and hearing beats: a subscriber of journaled types would have asked for a
        # snapshot at the first, and the publisher serves asks between beats.
        assert _beats_delivered(sub, 3) == 3
        assert p.snapshots == 0 and not sub.tail.asking and not sub.tail.beats
    finally:
        p.done.set()
        p.join(5)
        sub.close()


def test_backfill_off_keeps_the_old_behaviour(mesh):
    cfg, ctx = mesh
    p = _BeatingPublisher(cfg, ctx, before=5, burst=1)
    p.start()
    assert p.ready.wait(BOUND_S)
    sub = Subscriber(ctx, cfg, ["a"], [prefix(2, RiskAlert.TLV_TYPE), BEATS], backfill=False)
    try:
        assert _beats_delivered(sub, 2) == 2, "never connected"
        p.go.set()  # alert 6, live: the first this subscriber hears of the stream
        got = []
        deadline = time.monotonic() + BOUND_S
        while not got and time.monotonic() < deadline:
            d = sub.recv(100)
            if d is not None and d.topic.tlv_type == RiskAlert.TLV_TYPE:
                got.append(d)
        assert [d.frame.tlvs[0].alert_id for d in got] == [6]
        assert got[0].verdict is Verdict.FIRST and not got[0].recovered
        assert _beats_delivered(sub, 2) == 2  # time for a back-fill, had one been asked
        assert p.snapshots == 0 and sub.stats.recovered == 0 and not sub.tail.beats
    finally:
        p.done.set()
        p.join(5)
        sub.close()


def test_unanswered_snapshot_expires_without_blocking_recv(mesh):
    cfg, ctx = mesh
    cfg = replace(cfg, recovery_timeout_ms=200)
    pub = Publisher(ctx, cfg, "a", source=42)  # no service ROUTER bound
    sub = Subscriber(ctx, cfg, ["a"], [b""])
    try:
        deadline = time.monotonic() + 5
        while "a" not in sub.tail.asking and time.monotonic() < deadline:
            pub.publish([Heartbeat(node="a")], key=0)
            sub.recv(20)
        assert "a" in sub.tail.asking
        t0 = time.monotonic()
        assert sub.recv(0) is None and time.monotonic() - t0 < 0.05, "recv(0) never waits"
        while sub.tail.asking and time.monotonic() < deadline:
            sub.recv(50)
        assert not sub.tail.asking and sub.stats.recovery_failures >= 1
        assert "a" in sub.tail.recheck, "the next heartbeat asks again"
    finally:
        sub.close()
        pub.close()


# -- the journal's snapshot --------------------------------------------------------------------

RUN = 0x18B9C1D2E3F40A5B
S1 = run_prefix(stream_prefix(2, 62, 7, "a"), RUN)
S2 = run_prefix(stream_prefix(3, 50, 1, "a"), RUN)


def _topic(stream: bytes, seq: int) -> bytes:
    return b"%s%x" % (stream, seq)


def test_journal_heads_are_each_streams_newest_frame_below_the_bound():
    j = Journal(8)
    s1, s2 = S1, S2
    j.append(1, _topic(s1, 1), b"f1")
    j.append(2, _topic(s2, 1), b"f2")
    j.append(4, _topic(s1, 2), b"f4")
    j.append(6, _topic(s2, 2), b"f6")
    assert j.heads_before(0) == [(4, _topic(s1, 2)), (6, _topic(s2, 2))]
    assert j.heads_before(5) == [(2, _topic(s2, 1)), (4, _topic(s1, 2))]
    assert j.heads_before(3, b"2/") == [(1, _topic(s1, 1))]
    assert j.heads_before(1) == []


def test_journal_forgets_a_stream_whose_last_frame_is_evicted():
    j = Journal(2)
    s1, s2 = S1, S2
    j.append(1, _topic(s1, 1), b"x")
    j.append(2, _topic(s2, 1), b"x")
    j.append(3, _topic(s2, 2), b"x")
    assert [t for _, t in j.heads_before(0)] == [_topic(s2, 2)]
    assert len(j.heads) == 1


def _request(request_type: int, current: int = 0, stream: bytes = b"") -> list[bytes]:
    req = RecoveryRequest(last_sequence=0, current_sequence=current, consumer_id=0,
                          request_type=request_type)
    return [encode_frame([req], source=1, sequence=9), stream]


def test_journal_retransmits_only_the_run_a_request_names():
    j = Journal(8, RUN)
    j.append(1, _topic(S1, 1), b"f1")
    j.append(2, _topic(S1, 2), b"f2")
    assert j.serve(_request(RETRANSMIT, 3, S1)) == [b"OK 9", _topic(S1, 1), b"f1",
                                                     _topic(S1, 2), b"f2"]
    # Another run's request: its frames are not here; lost for good, and said so.
    other = run_prefix(stream_prefix(2, 62, 7, "a"), RUN - 1)
    assert j.serve(_request(RETRANSMIT, 3, other)) == [b"PARTIAL 9"]


def test_journal_serves_a_snapshot_as_topic_and_header_sequence_pairs():
    j = Journal(8)
    s1 = S1
    j.append(3, _topic(s1, 1), b"f")
    j.append(5, _topic(s1, 2), b"f")
    assert j.serve(_request(SNAPSHOT)) == [b"OK 9", _topic(s1, 2), b"5"]
    assert j.serve(_request(SNAPSHOT, current=5)) == [b"OK 9", _topic(s1, 1), b"3"]


def test_journal_refuses_an_unknown_request_type():
    with pytest.raises(BadRecoveryRequest):
        Journal(4).serve(_request(7))


# -- with the real node runtime ----------------------------------------------------------------

def test_late_joiner_back_fills_the_risk_nodes_emergency_stop():
    with NodeHarness("risk") as h:
        assert h.control(EmergencyStop(latched=1, reason="tail test")).startswith(b"OK")
        h.wait_for(EmergencyStop)
        ctx = zmq.Context()
        # Joins after the stop was published: the EmergencyStop frame (its own stream; the
        # heartbeats carry the latch too, under the Heartbeat type) comes from the journal.
        sub = Subscriber(ctx, h.cfg, [h.name], [prefix(4, EmergencyStop.TLV_TYPE)])
        try:
            got = []
            deadline = time.monotonic() + BOUND_S
            while not got and time.monotonic() < deadline:
                d = sub.recv(100)
                if d is not None:
                    got.append(d)
            assert len(got) == 1 and got[0].recovered
            assert got[0].frame.first(EmergencyStop).reason == "tail test"
            assert sub.recv(500) is None, "exactly once"
        finally:
            sub.close()
            ctx.destroy(linger=0)

