"""Several publisher and subscriber processes, tiny high-water marks, slow readers.

Three publisher processes each send two streams (ExecutionResult, journaled; ArbitrageSignal,
not journaled) into ``sndhwm = rcvhwm = 8``; two subscriber processes read them, one of them
pausing often, so ZeroMQ drops frames. Each frame carries its stream sequence as its id.

Accepted outcomes, per subscriber and per stream (every one is checked, whatever happened):
  * exactly once: no frame delivered twice, ids in increasing order (recovered ones included);
  * exact accounting: ids delivered + frames counted missed and not recovered == frames sent,
    and the subscriber's drops are the sum of those losses;
  * journaled streams: every frame delivered (recovered == missed), or, if a recovery
    request on that stream was counted as failed (no answer within the timeout, or the
    journal no longer reached back), the frames it would have fetched are in the drops: a
    loss on a journaled stream with no failure counted on it fails the test;
  * any split between live and recovered deliveries, and between the two subscribers.
Before the burst each publisher sends probes on a stream of their own (key 0, not counted)
until both subscribers have seen probes from every publisher: no frame of the run is sent
before every subscription is live. The first frame of each stream goes out before the burst
and the last one after the readers went idle, so neither end of a stream is lost unseen (a
gap is only seen when a later frame of its stream arrives). Children run under "spawn", every
wait is bounded, and the fixture kills leftover children and removes the run directory, also
on failure.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time

import pytest

from nodes.runtime.testing import private_mesh, short_dir

CTX = mp.get_context("spawn")
PUBLISHERS = ("p1", "p2", "p3")
PER_STREAM = 1500
WAIT_S = 30.0


PROBE_KEY = 0  # the probes' stream; the run's streams use strategy 7


def _publisher(config: str, name: str, count: int, ready, burst, sent, tail, done) -> None:
    import zmq

    from mesh.config import load_config
    from mesh.protocol import ArbitrageSignal, ExecutionResult
    from mesh.pubsub import Publisher, prepare_endpoint

    cfg = load_config(config, env={})
    ctx = zmq.Context()
    pub = Publisher(ctx, cfg, name, source=42)
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    prepare_endpoint(cfg.node(name).service)
    router.bind(cfg.node(name).service)

    def serve(ms: int) -> None:
        while router.poll(ms):
            ident, *body = router.recv_multipart()
            router.send_multipart([ident, *pub.journal.serve(body)])
            ms = 0

    def send(i: int) -> None:
        pub.publish([ExecutionResult(opportunity_id=i, strategy_id=7)])
        pub.publish([ArbitrageSignal(signal_id=i, strategy_id=7)])

    ready.set()
    try:
        while not burst.is_set():
            pub.publish([ArbitrageSignal(signal_id=0, strategy_id=PROBE_KEY)])
            serve(10)
        send(1)
        serve(50)
        for i in range(2, count):
            send(i)
            if i % 50 == 0:
                serve(0)
        sent.set()
        while not tail.is_set():
            serve(10)
        send(count)
        while not done.is_set():
            serve(10)
    finally:
        router.close(0)
        pub.close()
        ctx.destroy(0)


def _subscriber(config: str, slow: bool, streams: int, ready, burst_done, results) -> None:
    import zmq

    from mesh.config import load_config
    from mesh.pubsub import Subscriber
    from mesh.topics import prefix

    cfg = load_config(config, env={})
    ctx = zmq.Context()
    sub = Subscriber(ctx, cfg, list(PUBLISHERS), [prefix(2, 32), prefix(3, 50)], lazy=True)
    ready.set()
    ids: dict[str, list[int]] = {}
    missed: dict[str, int] = {}
    recovered: dict[str, int] = {}
    failures: dict[str, int] = {}
    probed: set[str] = set()
    tails = 0
    reported_idle = False
    last_frame = time.monotonic()
    deadline = time.monotonic() + WAIT_S
    n = 0
    while tails < streams and time.monotonic() < deadline:
        before, failed_before = sub.stats.missed, sub.stats.recovery_failures
        d = sub.recv(20)
        if d is None:
            if burst_done.is_set() and not reported_idle and time.monotonic() - last_frame > 0.3:
                results.put(("idle", None))
                reported_idle = True
            continue
        last_frame = time.monotonic()
        key = f"{d.topic.publisher}/{d.topic.tlv_type}"
        if d.topic.key == PROBE_KEY:
            key += "/probe"
            if d.topic.publisher not in probed:
                probed.add(d.topic.publisher)
                if len(probed) == len(PUBLISHERS):
                    results.put(("joined", None))
        else:
            n += 1
            if slow and n % 40 == 0:
                time.sleep(0.002)  # the slow reader: lets the high-water marks overflow
            tlv = d.frame.tlvs[0]
            ident = tlv.opportunity_id if d.topic.tlv_type == 50 else tlv.signal_id
            assert ident == d.topic.stream_seq
            ids.setdefault(key, []).append(ident)
            if ident == PER_STREAM:
                tails += 1
        # what this recv counted belongs to the stream it delivered (recovered frames of a
        # gap come first, from the same recv, then the frame that revealed the gap)
        missed[key] = missed.get(key, 0) + sub.stats.missed - before
        recovered[key] = recovered.get(key, 0) + d.recovered
        failures[key] = failures.get(key, 0) + sub.stats.recovery_failures - failed_before
    st = sub.stats
    results.put(("done", {"ids": ids, "missed": missed, "recovered": recovered,
                          "failures": failures, "failures_total": st.recovery_failures,
                          "errors": dict(st.errors), "duplicates": st.duplicates,
                          "drops": st.drops}))
    sub.close()
    ctx.destroy(0)


@pytest.fixture
def run():
    procs: list = []
    with short_dir("apst-") as d:
        config, _ = private_mesh(d, PUBLISHERS, sndhwm=8, rcvhwm=8, journal_size=10_000,
                                   recovery_timeout_ms=2000)
        try:
            yield str(config), procs
        finally:
            for p in procs:
                p.join(2)
                if p.is_alive():
                    p.kill()
                    p.join(2)


def test_many_publishers_tiny_hwm_every_frame_delivered_once_or_counted(run):
    config, procs = run
    burst, tail, done, burst_done = CTX.Event(), CTX.Event(), CTX.Event(), CTX.Event()
    results = CTX.Queue()
    readies, sents = [], []
    for slow in (False, True):
        ready = CTX.Event()
        procs.append(CTX.Process(target=_subscriber, daemon=True,
                                 args=(config, slow, 2 * len(PUBLISHERS), ready, burst_done,
                                       results)))
        readies.append(ready)
    for name in PUBLISHERS:
        ready, sent = CTX.Event(), CTX.Event()
        procs.append(CTX.Process(target=_publisher, daemon=True,
                                 args=(config, name, PER_STREAM, ready, burst, sent, tail,
                                       done)))
        readies.append(ready)
        sents.append(sent)
    for p in procs:
        p.start()
    try:
        assert all(r.wait(WAIT_S) for r in readies), "a child did not start"
        got = {"joined": 0, "idle": 0}
        reports = []
        deadline = time.monotonic() + WAIT_S
        while len(reports) < 2 and time.monotonic() < deadline:
            try:
                kind, body = results.get(timeout=0.5)
            except queue.Empty:
                continue
            if kind == "done":
                reports.append(body)
                continue
            got[kind] += 1
            if kind == "joined" and got["joined"] == 2:
                burst.set()  # every subscription is live
                assert all(s.wait(WAIT_S) for s in sents), "a publisher never sent its burst"
                burst_done.set()
            elif kind == "idle" and got["idle"] == 2:
                tail.set()
        assert len(reports) == 2, f"subscribers reported {len(reports)} of 2 ({got})"
    finally:
        done.set()

    total_missed = 0
    for rep in reports:
        assert rep["duplicates"] == 0 and rep["errors"] == {}
        assert len(rep["ids"]) == 2 * len(PUBLISHERS), sorted(rep["ids"])
        for key, ids in rep["ids"].items():
            assert ids == sorted(set(ids)), f"{key}: duplicate or out of order"
            missed, recovered = rep["missed"][key], rep["recovered"][key]
            lost = missed - recovered
            assert len(ids) + lost == PER_STREAM, key
            if key.endswith("/50"):  # journaled: whatever is lost, a failure says why
                assert lost == 0 or rep["failures"][key] > 0, \
                    f"{key}: {lost} lost with no failed recovery counted"
            total_missed += missed
        assert rep["failures_total"] == sum(rep["failures"].values())
        assert rep["drops"] == sum(rep["missed"][k] - rep["recovered"][k] for k in rep["missed"])
    assert total_missed > 0, "the load never overflowed the high-water marks"
