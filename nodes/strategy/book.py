"""The strategy's pool book: every pool's state in struct-of-arrays, updated in compiled code.

:mod:`nodes.strategy.layout` draws the arrays; :mod:`nodes.strategy.apply` applies ring frames to
them (:mod:`nodes.strategy.kernels` holds the per-pool updates). :class:`PoolBook` owns one set
of arrays and gives Python views of a pool for the exact math.
Thread safety: one thread (the node's loop) owns the arrays.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from contracts.swapmath.pools import V2Pool, V3Pool
from nodes.strategy.apply import apply_frames, take_dirty_slots
from nodes.strategy.fastcall import Kernel
from nodes.strategy.kernels import find_slot
from nodes.strategy.layout import ERROR_KINDS, KIND_V2, M_POOLS, M_RADIUS, allocate


def _addr_hex(words: np.ndarray) -> str:
    raw = (int(words[0]).to_bytes(8, "little") + int(words[1]).to_bytes(8, "little")
           + int(words[2]).to_bytes(4, "little"))
    return "0x" + raw.hex()


def _u128(lo: int, hi: int) -> int:
    return int(lo) | (int(hi) << 64)


class PoolBook:
    """The arrays of the module docstring, and Python views of one pool for exact math.

    Parameters
    ----------
    capacity : int
        Most pools held; a ``PoolState`` of one more is counted as ``book_full``.
    ticks_per_pool : int
        Most initialized ticks held per V3 pool; one more makes the pool unusable (``ticks_full``).
    word_radius : int
        The collector's bootstrap radius in tick-bitmap words (its ``word_radius`` setting).
    """

    def __init__(self, capacity: int = 4096, ticks_per_pool: int = 512, word_radius: int = 8) -> None:
        p = capacity
        self.capacity = p
        self.arrays = allocate(p, ticks_per_pool)
        (self.kind, self.valid, self.fee, self.spacing, self.venue, self.block, self.addr, self.tok,
         self.r, self.sqrt, self.liq, self.tick, self.words, self.ticks, self.net_lo, self.rate,
         self.htab, self.dirty, self.mark, self.net_hi, self.nticks, self.fresh, self.meta,
         self.errors, self.dec) = self.arrays
        self.meta[M_RADIUS] = word_radius
        self._taken = np.zeros(p, np.int32)
        self._apply = Kernel(apply_frames)
        self._take = Kernel(take_dirty_slots)

    def apply(self, data: np.ndarray, offsets: np.ndarray, first: int, count: int) -> int:
        """Apply frames from ``first`` up to the next ``BlockEnd`` (see :func:`apply_frames`);
        returns the index of the next frame to apply. ``data`` is a uint8 array and ``offsets``
        an int64 array, C-contiguous (a ring batch's); anything else goes through numba's
        dispatch (slower, same result)."""
        if data.dtype == np.uint8 and offsets.dtype == np.int64 and data.flags.c_contiguous \
                and offsets.flags.c_contiguous and data.flags.writeable and offsets.flags.writeable:
            return int(self._apply(data, offsets, first, count, self.arrays))
        return int(apply_frames(data, offsets, first, count, self.arrays))

    @property
    def pools(self) -> int:
        """Slots in use."""
        return int(self.meta[M_POOLS])

    def slot(self, address: str) -> int:
        """The slot of a pool address (-1 when unknown)."""
        raw = bytes.fromhex(address[2:] if address.startswith("0x") else address)
        w = np.frombuffer(raw[:16], "<u8")
        return int(find_slot(self.htab, self.addr, w[0], w[1], np.uint64(int.from_bytes(raw[16:], "little"))))

    def address(self, s: int) -> str:
        """A slot's pool address, lower-case hex."""
        return _addr_hex(self.addr[s])

    def tokens(self, s: int) -> tuple[str, str]:
        """A slot's token0 and token1, lower-case hex."""
        return _addr_hex(self.tok[s, :3]), _addr_hex(self.tok[s, 3:])

    def take_dirty(self) -> np.ndarray:
        """The slots changed since the last call (and clear the list): a view of a buffer the
        next call overwrites."""
        n = self._take(self.dirty, self.mark, self._taken)
        return self._taken[:n]

    def mark_dirty(self, slots: Iterable[int]) -> None:
        """Mark slots changed again (their cycles are screened at the next evaluation)."""
        end = len(self.dirty) - 1
        for s in slots:
            if not self.mark[s]:
                self.mark[s] = 1
                self.dirty[self.dirty[end]] = s
                self.dirty[end] += 1

    def take_fresh(self) -> np.ndarray:
        """The slots created since the last call (and clear the list)."""
        n = int(self.fresh[-1])
        out = self.fresh[:n].copy()
        self.fresh[-1] = 0
        return out

    def model(self, s: int) -> V2Pool | V3Pool:
        """Pool ``s`` as the exact reference's value (``contracts.swapmath``): Python ints."""
        t0, t1 = self.tokens(s)
        if self.kind[s] == KIND_V2:
            r = self.r[s]
            return V2Pool(self.address(s), t0, t1, _u128(r[0], r[1]), _u128(r[2], r[3]), 0, int(self.fee[s]))
        n = int(self.nticks[s])
        ticks = tuple(int(t) for t in self.ticks[s, :n])
        net = {t: _u128(self.net_lo[s, i], int(self.net_hi[s, i]) & (2**64 - 1)) for i, t in enumerate(ticks)}
        net = {t: v - 2**128 if v >= 2**127 else v for t, v in net.items()}
        sq = self.sqrt[s]
        return V3Pool(self.address(s), t0, t1, int(self.fee[s]), int(self.spacing[s]),
                      _u128(sq[0], sq[1]) | (int(sq[2]) << 128), int(self.tick[s]),
                      _u128(self.liq[s, 0], self.liq[s, 1]), ticks, net, dict.fromkeys(ticks, 1),
                      int(self.words[s, 0]), int(self.words[s, 1]))

    def error_counts(self) -> dict[str, int]:
        """Counts of bad input by kind since the start."""
        return {k: int(v) for k, v in zip(ERROR_KINDS, self.errors, strict=True)}
