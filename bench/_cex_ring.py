"""The compiled depth-update kernel that hands its OrderBook frame straight to a shm ring.

``cex`` may not import ``shm`` (layers), so the composition of
:func:`cex.binance.fastkernels.depth_step` and :func:`~cex.binance.fastkernels.frame_into`
with :func:`shm.ring.write_frame` lives in a layer that may import both;
:meth:`cex.binance.fastdepth.FastBinanceFeed.write_message` calls it with the ring's
``words``, ``data`` and writer ``state`` as its sink arguments.
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
