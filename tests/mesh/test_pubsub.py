"""Publisher and subscriber over real ipc sockets: filtering, numbering, overflow, recovery."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import zmq

from mesh.protocol import ArbitrageSignal, ExecutionResult, Trade
from mesh.pubsub import Publisher, Subscriber
from mesh.sequence import Verdict
from mesh.topics import prefix


def _wait_joined(pub: Publisher, sub: Subscriber, probe, timeout: float = 5.0) -> None:
    """Publish probes until one arrives (the slow joiner is done), then drain them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pub.publish([probe])
        if sub.recv(50) is not None:
            while sub.recv(20) is not None:
                pass
            return
    raise AssertionError("subscriber never joined")


def test_prefix_filter_delivers_one_strategy_only(mesh):
    cfg, ctx = mesh
    pub = Publisher(ctx, cfg, "a", source=20)
    sub = Subscriber(ctx, cfg, ["a"], [prefix(2, 32, 1)])
    try:
        _wait_joined(pub, sub, ArbitrageSignal(strategy_id=1, signal_id=0))
        for i in range(1, 31):
            pub.publish([ArbitrageSignal(strategy_id=1 + i % 3, signal_id=i)])
            pub.publish([Trade(asset_id=1)])
        got = []
        while (d := sub.recv(200)) is not None:
            got.append(d)
        assert [d.frame.tlvs[0].signal_id for d in got] == list(range(3, 31, 3))
        assert {d.frame.tlvs[0].strategy_id for d in got} == {1}
        # Filtering is not loss: the stream of strategy 1 is complete.
        assert sub.stats.gaps == 0 and sub.stats.duplicates == 0
        # Header sequence is one counter per publisher: 1 probe... then 60 frames.
        assert got[-1].frame.header.sequence == pub.sequence - 1
    finally:
        sub.close()
        pub.close()


def test_hwm_overflow_is_counted_as_gaps_and_drops(mesh):
    cfg, ctx = mesh
    cfg = replace(cfg, sndhwm=10, rcvhwm=10)
    pub = Publisher(ctx, cfg, "a", source=20)
    sub = Subscriber(ctx, cfg, ["a"], [prefix(2)], recover_types=())
    try:
        _wait_joined(pub, sub, ArbitrageSignal(strategy_id=5))
        total = 20_000
        for i in range(total):
            pub.publish([ArbitrageSignal(strategy_id=5, signal_id=i)])
        received = 0
        while sub.recv(300) is not None:
            received += 1
        pub.publish([ArbitrageSignal(strategy_id=5, signal_id=total)])  # the tail reveals all
        while sub.recv(300) is not None:
            received += 1
        st = sub.stats
        assert st.gaps >= 1, "20k frames into HWM 10+10 must overflow"
        # Accounting is exact: every frame was either received or counted as missed.
        assert received + st.missed == total + 1
        assert st.drops == st.missed and st.duplicates == 0
    finally:
        sub.close()
        pub.close()


class _JournalingPublisher(threading.Thread):
    """Owns publisher and service ROUTER in one thread: bursts, then serves recovery."""

    def __init__(self, cfg, ctx, count: int) -> None:
        super().__init__(daemon=True)
        self.cfg, self.ctx, self.count = cfg, ctx, count
        self.go_burst = threading.Event()
        self.burst_sent = threading.Event()
        self.go_tail = threading.Event()
        self.done = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        pub = Publisher(self.ctx, self.cfg, "a", source=42)
        router = self.ctx.socket(zmq.ROUTER)
        router.bind(self.cfg.node("a").service)
        self.ready.set()
        try:
            while not self.go_burst.is_set():
                pub.publish([ExecutionResult(opportunity_id=0, strategy_id=3)])  # probes
                self._serve(router, pub, 20)
            for i in range(1, self.count + 1):
                pub.publish([ExecutionResult(opportunity_id=i, strategy_id=3)])
            self.burst_sent.set()
            while not self.go_tail.is_set():
                self._serve(router, pub, 10)
            pub.publish([ExecutionResult(opportunity_id=self.count + 1, strategy_id=3)])
            while not self.done.is_set():
                self._serve(router, pub, 10)
        finally:
            router.close(0)
            pub.close()

    @staticmethod
    def _serve(router, pub, ms: int) -> None:
        if router.poll(ms):
            ident, *body = router.recv_multipart()
            router.send_multipart([ident, *pub.journal.serve(body)])


def test_gap_recovery_delivers_every_journaled_frame_exactly_once_in_order(mesh):
    cfg, ctx = mesh
    cfg = replace(cfg, sndhwm=5, rcvhwm=5, journal_size=50_000)
    count = 20_000
    p = _JournalingPublisher(cfg, ctx, count)
    p.start()
    assert p.ready.wait(5)
    sub = Subscriber(ctx, cfg, ["a"], [prefix(3, 50)])
    try:
        deadline = time.monotonic() + 5
        while sub.recv(50) is None:
            assert time.monotonic() < deadline, "never joined"
        p.go_burst.set()
        assert p.burst_sent.wait(5)  # the burst overflowed both high-water marks: we did not read
        ids = []
        while (d := sub.recv(300)) is not None:
            ids.append(d.frame.tlvs[0].opportunity_id)
        p.go_tail.set()
        deadline = time.monotonic() + 5
        while not ids or ids[-1] != count + 1:
            d = sub.recv(200)
            if d is not None:
                ids.append(d.frame.tlvs[0].opportunity_id)
            assert time.monotonic() < deadline, f"tail never arrived; last {ids[-3:]}"
        payload = [i for i in ids if i != 0]
        assert payload == list(range(1, count + 2)), "exactly once, in order"
        assert sub.stats.gaps >= 1 and sub.stats.recovered >= 1
        assert sub.stats.recovered == sub.stats.missed
        assert sub.stats.drops == 0 and sub.stats.recovery_failures == 0
    finally:
        p.done.set()
        p.join(5)
        sub.close()


class _RestartedPublisher(threading.Thread):
    """A new run of publisher ``a``: sends ExecutionResults 1..``burst`` at once, then one
    more every 20 ms, serving recovery from its journal meanwhile."""

    def __init__(self, cfg, ctx, burst: int) -> None:
        super().__init__(daemon=True)
        self.cfg, self.ctx, self.burst = cfg, ctx, burst
        self.burst_sent = threading.Event()
        self.done = threading.Event()
        self.run_id = 0

    def run(self) -> None:
        pub = Publisher(self.ctx, self.cfg, "a", source=42)
        router = self.ctx.socket(zmq.ROUTER)
        router.linger = 0
        router.bind(self.cfg.node("a").service)
        self.run_id = pub.run
        try:
            i = 0
            for i in range(1, self.burst + 1):
                pub.publish([ExecutionResult(opportunity_id=i, strategy_id=3)])
            self.burst_sent.set()
            while not self.done.is_set():
                i += 1
                pub.publish([ExecutionResult(opportunity_id=i, strategy_id=3)])
                _JournalingPublisher._serve(router, pub, 20)
        finally:
            router.close(0)
            pub.close()


def test_restarted_publisher_first_seen_ahead_of_its_old_run_is_a_restart_not_a_gap(mesh):
    cfg, ctx = mesh
    sub = Subscriber(ctx, cfg, ["a"], [prefix(3, 50)])
    old = Publisher(ctx, cfg, "a", source=42)
    new = None
    try:
        _wait_joined(old, sub, ExecutionResult(opportunity_id=0, strategy_id=3))
        old_last = sub.tracker.last_seq(sub.tracker.streams.copy().popitem()[0])
        before = replace(sub.stats)  # the probes lost before joining (no journal served)
        old.close()
        # The new run's first frames go out while this subscriber is not connected, so the
        # first it sees of the new run is ahead of the old run's last sequence.
        endpoint = cfg.node("a").pub
        sub.socket.disconnect(endpoint)
        new = _RestartedPublisher(cfg, ctx, burst=old_last + 5)
        new.start()
        assert new.burst_sent.wait(5)
        sub.socket.connect(endpoint)
        got = []
        deadline = time.monotonic() + 5
        while not got or got[-1].recovered:
            assert time.monotonic() < deadline, f"the new run never arrived: {sub.stats}"
            if (d := sub.recv(100)) is not None:
                got.append(d)
        first_seen = got[-1]
        assert first_seen.topic.stream_seq > old_last + 5
        assert first_seen.verdict is Verdict.RESTART
        # Everything of the new run before it came from the new run's journal, in order.
        assert [d.frame.tlvs[0].opportunity_id for d in got] == \
            list(range(1, first_seen.topic.stream_seq + 1))
        assert {d.topic.run for d in got} == {new.run_id} != {old.run}
        st = sub.stats
        assert (st.restarts, st.gaps, st.duplicates, st.drops - before.drops) == (1, 0, 0, 0)
        assert st.recovered - before.recovered == st.missed - before.missed \
            == first_seen.topic.stream_seq - 1
    finally:
        if new is not None:
            new.done.set()
            new.join(5)
        sub.close()
