"""The float screen: which cycles through the changed pools can profit at all.

A cycle's marginal rate (output per unit of input at zero size, after every pool's fee) is the
product of its hops' rates; the book keeps each pool's rate as a logarithm, so the screen sums
at most four floats per cycle. A cycle whose rate does not exceed 1 cannot profit at any size
(each hop's output is concave in its input), so only cycles above ``log(1 + margin)`` go on to
exact sizing. Floats only choose what to size: every number published is exact (docs/strategy.md).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nodes.strategy.fastcall import Kernel


@njit(cache=True)
def screen(dirty, n_dirty, ptr, idx, pool, zero, hops, rate, stamp, epoch, threshold, out_cycle,
           out_score):
    """Mark every cycle through ``dirty[:n_dirty]`` once (``stamp``/``epoch``) and write those
    whose summed log rate exceeds ``threshold`` to ``out_cycle``/``out_score``.

    Returns ``(candidates, cycles_evaluated)``. When the output is full, a better cycle replaces
    the worst one held: the output is the best ``len(out_cycle)`` cycles, whatever the order of
    the dirty pools (a fresh dislocation must not lose its place to an older, smaller one).
    """
    found = 0
    seen = 0
    cap = out_cycle.shape[0]
    worst = 0  # index of the lowest score held once the output is full
    for k in range(n_dirty):
        s = dirty[k]
        if s + 1 >= ptr.shape[0]:
            continue
        for j in range(ptr[s], ptr[s + 1]):
            c = idx[j]
            if stamp[c] == epoch:
                continue
            stamp[c] = epoch
            seen += 1
            total = 0.0
            for h in range(hops[c]):
                total += rate[pool[c, h], 0 if zero[c, h] else 1]
            if total <= threshold:
                continue
            if found < cap:
                out_cycle[found] = c
                out_score[found] = total
                found += 1
                if found == cap:
                    worst = _lowest(out_score, cap)
            elif cap > 0 and total > out_score[worst]:
                out_cycle[worst] = c
                out_score[worst] = total
                worst = _lowest(out_score, cap)
    return found, seen


@njit(cache=True)
def _lowest(score, n):
    """Index of the lowest of ``score[:n]``."""
    low = 0
    for i in range(1, n):
        if score[i] < score[low]:
            low = i
    return low


class Screen:
    """Scratch arrays for :func:`screen`, grown with the cycle count."""

    def __init__(self, margin: float = 1e-9, max_candidates: int = 4096) -> None:
        self.threshold = float(np.log1p(margin))
        self.stamp = np.zeros(1024, np.int64)
        self.epoch = 0
        self.out_cycle = np.zeros(max_candidates, np.int32)
        self.out_score = np.zeros(max_candidates, np.float64)
        self._screen = Kernel(screen)

    def run(self, dirty: np.ndarray, graph, rate: np.ndarray, slots: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Candidates ``(cycles, scores)`` best first, and how many cycles were evaluated."""
        if len(self.stamp) < graph.count:
            self.stamp = np.zeros(max(graph.count, 2 * len(self.stamp)), np.int64)
        self.epoch += 1
        dirty = np.ascontiguousarray(dirty, np.int32)  # the kernel is bound to these types
        rate = np.ascontiguousarray(rate, np.float64)
        ptr, idx = graph.index(slots)
        n, seen = self._screen(dirty, len(dirty), ptr, idx, graph.pool, graph.zero, graph.hops, rate,
                               self.stamp, self.epoch, self.threshold, self.out_cycle, self.out_score)
        order = np.argsort(-self.out_score[:n])
        return self.out_cycle[:n][order], self.out_score[:n][order], int(seen)
