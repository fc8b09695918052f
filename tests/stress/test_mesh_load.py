"""Several publisher and subscriber processes, tiny high-water marks, slow readers.

Three publisher processes each send two streams (ExecutionResult, journaled; ArbitrageSignal,
not journaled) into ``sndhwm = rcvhwm = 8``; two subscriber processes read them, one of them
pausing often, so ZeroMQ drops frames. Each frame carries its stream sequence as its id.

Accepted outcomes, per subscriber and per stream:
  * no frame delivered twice, and ids in increasing order (recovered frames included);
  * ids delivered + frames counted missed and not recovered == frames sent (exact accounting);
  * journaled streams: every frame delivered (recovered == missed, nothing left missing),
    unless a recovery request was counted as failed (then the rest is in the drops);
  * any split between live and recovered deliveries, and between the two subscribers.
The first frame of each stream goes out before the burst and the last one after the readers
went idle, so neither end of a stream is lost unseen (a gap is only seen when a later frame
of its stream arrives). Children run under "spawn", every wait is bounded, and the fixture
kills leftover children and removes the run directory, also on failure.
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


def _publisher(config: str, name: str, count: int, ready, burst, tail, done) -> None:
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
            serve(10)
        send(1)
        serve(50)
        for i in range(2, count):
            send(i)
            if i % 50 == 0:
                serve(0)
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
    tails = 0
    reported_idle = False
    last_frame = time.monotonic()
    deadline = time.monotonic() + WAIT_S
    n = 0
    while tails < streams and time.monotonic() < deadline:
        before = sub.stats.missed
        d = sub.recv(20)
        if d is None:
            if burst_done.is_set() and not reported_idle and time.monotonic() - last_frame > 0.3:
                results.put(("idle", None))
                reported_idle = True
            continue
        last_frame = time.monotonic()
        n += 1
        if slow and n % 40 == 0:
            time.sleep(0.002)
        key = f"{d.topic.publisher}/{d.topic.tlv_type}"
        tlv = d.frame.tlvs[0]
        ident = tlv.opportunity_id if d.topic.tlv_type == 50 else tlv.signal_id
        assert ident == d.topic.stream_seq
        ids.setdefault(key, []).append(ident)
        missed[key] = missed.get(key, 0) + sub.stats.missed - before
        recovered[key] = recovered.get(key, 0) + d.recovered
        if ident == PER_STREAM:
            tails += 1
    st = sub.stats
    results.put(("done", {"ids": ids, "missed": missed, "recovered": recovered,
                          "failures": st.recovery_failures, "errors": dict(st.errors),
                          "duplicates": st.duplicates, "drops": st.drops}))
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
    readies = []
    for slow in (False, True):
        ready = CTX.Event()
        procs.append(CTX.Process(target=_subscriber, daemon=True,
                                 args=(config, slow, 2 * len(PUBLISHERS), ready, burst_done,
                                       results)))
        readies.append(ready)
    for name in PUBLISHERS:
        ready = CTX.Event()
        procs.append(CTX.Process(target=_publisher, daemon=True,
                                 args=(config, name, PER_STREAM, ready, burst, tail, done)))
        readies.append(ready)
    for p in procs:
        p.start()
    try:
        assert all(r.wait(WAIT_S) for r in readies), "a child did not start"
        time.sleep(0.5)  # subscriptions reach every publisher (slow joiner)
        burst.set()
        time.sleep(1.0)
        burst_done.set()
        got: dict[str, int] = {"idle": 0}
        reports = []
        deadline = time.monotonic() + WAIT_S
        while len(reports) < 2 and time.monotonic() < deadline:
            try:
                kind, body = results.get(timeout=0.5)
            except queue.Empty:
                continue
            if kind == "idle":
                got["idle"] += 1
                if got["idle"] == 2:
                    tail.set()
            else:
                reports.append(body)
        assert len(reports) == 2, f"subscribers reported {len(reports)} of 2 (idle {got})"
    finally:
        done.set()

    total_missed = 0
    for rep in reports:
        assert rep["duplicates"] == 0 and rep["errors"] == {}
        assert len(rep["ids"]) == 2 * len(PUBLISHERS), sorted(rep["ids"])
        for key, ids in rep["ids"].items():
            assert ids == sorted(set(ids)), f"{key}: duplicate or out of order"
            missed, recovered = rep["missed"][key], rep["recovered"][key]
            assert len(ids) + (missed - recovered) == PER_STREAM, key
            if key.endswith("/50") and rep["failures"] == 0:
                assert recovered == missed and ids == list(range(1, PER_STREAM + 1)), key
            total_missed += missed
        assert rep["drops"] == sum(rep["missed"][k] - rep["recovered"][k] for k in rep["ids"])
    assert total_missed > 0, "the load never overflowed the high-water marks"
