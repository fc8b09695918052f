"""The compiled depth-update kernels that hand their OrderBook frames straight to a shm ring.

``cex`` may not import ``shm`` (layers), so the composition of
:func:`cex.binance.fastkernels.depth_step` and :func:`~cex.binance.fastkernels.frame_into`
with :func:`shm.ring.write_frame` lives here, in the layer that may import both;
:meth:`cex.binance.fastdepth.FastBinanceFeed.write_burst` (the collector's path) and
``write_message`` call them with the ring's ``words``, ``data`` and writer ``state`` as their
sink arguments. ``python -m nodes.collector_cex.warm`` compiles them into numba's cache
(`make install` does), so a node's first depth update does not wait for the compiler.
"""

from __future__ import annotations

from numba import njit

from cex.binance import fastkernels as K
from shm import ring

RING_FULL = K.GROW + 1
"""Applied to the book, but a full lossless ring refused the frame."""


@njit(cache=True)
def depth_to_ring(raw, arena, sequence, recv_ns, words, data, ws):
    """One message: on an applied depth update, its frame written into the ring."""
    status, k = K.depth_step(raw, arena)
    if status == K.APPLIED:
        frame = K.frame_into(arena, sequence, recv_ns)
        if ring.write_frame(words, data, ws, frame, K.FRAME_SIZE) != 1:
            status = RING_FULL
    return status, k


@njit(cache=True)
def depth_burst_to_ring(buf, offsets, recv_ns, start, arena, sequence, words, data, ws):
    """Messages ``start``.. of a burst into the ring until one is not finished here
    (the contract of :meth:`cex.binance.fastdepth.FastBinanceFeed.write_burst`)."""
    n = offsets.shape[0] - 1
    i = start
    while i < n:
        status, k = K.depth_step(buf[offsets[i]:offsets[i + 1]], arena)
        if status == K.APPLIED:
            frame = K.frame_into(arena, sequence, recv_ns[i])
            K.count(arena, status)
            if ring.write_frame(words, data, ws, frame, K.FRAME_SIZE) != 1:
                return i, sequence, RING_FULL, k
            sequence += 1
        elif status == K.STALE:
            K.count(arena, status)
        else:
            return i, sequence, status, k
        i += 1
    return i, sequence, 0, -1


def warm() -> float:
    """Compile (or load from the cache) every kernel of the collector's fast path; seconds."""
    import os
    import time

    from cex.binance.fastdepth import FastBinanceFeed
    from cex.binance.feed import BinanceFeed
    from cex.feed import RestReply
    from shm.segment import list_ring_names, unlink
    from shm.writer import RingWriter

    start = time.monotonic()
    namespace = f"warm{os.getpid()}"
    writer = RingWriter.create("market-data", "warm", namespace=namespace, capacity=1 << 16)
    try:
        feed = FastBinanceFeed(BinanceFeed(symbols=["ETHUSDT"], ws_base="ws://127.0.0.1:9"))
        feed.on_connect(0)

        def depth(first: int, price: str) -> bytes:
            return (b'{"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1,'
                    b'"s":"ETHUSDT","U":%d,"u":%d,"b":[["%s","1.00000000"]],"a":[]}}'
                    % (first, first, price.encode()))

        requests = feed.on_message(depth(11, "1.00000000"), 0).requests
        for request in requests:
            body = b'{"lastUpdateId":10,"bids":[["1.00000000","2.00000000"]],"asks":[]}'
            feed.on_snapshot(RestReply(request, 200, body), 0)
        for burst in ([depth(12, "1.50000000")], [depth(13, "0.50000000")]):
            feed.write_burst(burst, [1], 0, lambda out, recv, seq: seq, depth_burst_to_ring,
                             writer.words, writer.data, writer.state)
            feed.write_message(burst[0], 1, 0, depth_to_ring, writer.words, writer.data,
                               writer.state)
    finally:
        writer.close()
        for name in list_ring_names(namespace):
            unlink(name)
    return time.monotonic() - start

