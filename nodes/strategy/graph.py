"""The token graph and its arbitrage cycles, with an index pool -> cycles through it.

A cycle is a closed route of 2 to ``max_hops`` hops over distinct pools and distinct tokens that
starts and ends at a profit token; a route and its reverse are two cycles, and so is the same
loop started from another profit token. Cycles are enumerated once: when a pool joins, exactly
the cycles that contain it are added (each cycle is found when its last pool joins), so the
set grows with the pools and is never rebuilt. Arrays for compiled code::

    pool   i32[C, 4]   book slot of each hop           zero   u8[C, 4]   1 = hop sells token0
    hops   u8[C]       hop count                       start  i32[C]     profit token id
    ptr    i64[P + 1]  CSR index: cycles through slot s are idx[ptr[s]:ptr[s + 1]]
    idx    i32[...]

Thread safety: one thread (the node's loop) owns it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

#: Longest route FlashArbitrage takes.
MAX_HOPS = 4


class CycleGraph:
    """Pools as edges between tokens; cycles from the profit tokens.

    Parameters
    ----------
    profit_tokens : iterable of str
        Addresses (any case) a cycle may start and end at.
    max_hops : int
        2 to 4.
    max_cycles_per_pool : int
        Most cycles added for one joining pool (shortest first); the rest are counted in
        :attr:`dropped`, so a hub token cannot make one update cost unbounded time.
    """

    def __init__(self, profit_tokens: Iterable[str], max_hops: int = MAX_HOPS,
                 max_cycles_per_pool: int = 4096) -> None:
        if not 2 <= max_hops <= MAX_HOPS:
            raise ValueError(f"max_hops {max_hops} outside [2, {MAX_HOPS}]")
        self.max_hops = max_hops
        self.max_per_pool = max_cycles_per_pool
        self.profit = [t.lower() for t in profit_tokens]
        self.token_ids: dict[str, int] = {}
        self.adj: dict[str, dict[str, list[int]]] = {}
        self.ends: dict[int, tuple[str, str]] = {}
        self.count = 0
        self.dropped = 0
        self.pool = np.zeros((1024, MAX_HOPS), np.int32)
        self.zero = np.zeros((1024, MAX_HOPS), np.uint8)
        self.hops = np.zeros(1024, np.uint8)
        self.start = np.zeros(1024, np.int32)
        self._through: dict[int, list[int]] = {}
        self._pools_of: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._index_stale = True
        self.ptr = np.zeros(1, np.int64)
        self.idx = np.zeros(0, np.int32)

    def token_id(self, token: str) -> int:
        """A small integer per token."""
        return self.token_ids.setdefault(token.lower(), len(self.token_ids))

    def add_pool(self, slot: int, token0: str, token1: str) -> int:
        """Join pool ``slot`` (tokens as the pool orders them); returns the cycles added."""
        a, b = token0.lower(), token1.lower()
        if slot in self.ends or a == b:
            return 0
        self.ends[slot] = (a, b)
        self._pools_of.pop(a, None)
        self._pools_of.pop(b, None)
        self.token_id(a)
        self.token_id(b)
        self.adj.setdefault(a, {}).setdefault(b, []).append(slot)
        self.adj.setdefault(b, {}).setdefault(a, []).append(slot)
        found = sorted(self._cycles_with(slot), key=len)
        if len(found) > self.max_per_pool:
            self.dropped += len(found) - self.max_per_pool
            found = found[:self.max_per_pool]
        for route in found:
            self._append(route)
        if found:
            self._index_stale = True
        return len(found)

    def _cycles_with(self, p: int) -> Iterator[list[tuple[int, str]]]:
        """Routes [(slot, token_in), ...] through ``p`` from each profit token."""
        a, b = self.ends[p]
        for s in self.profit:
            if s not in self.adj:
                continue
            for length in range(2, self.max_hops + 1):
                for k in range(length):
                    for u, w in ((a, b), (b, a)):
                        if (k == 0 and u != s) or (k == length - 1 and w != s):
                            continue  # an empty head or tail must already be at the start
                        if (k > 0 and u == s) or (k < length - 1 and w == s):
                            continue  # the start token only at the ends: the cycle is simple
                        if not any(True for _ in self._paths(w, s, length - 1 - k, {p}, {u} - {s})):
                            continue  # no way back: do not walk the heads
                        for head in self._paths(s, u, k, {p}, {w} if w != s else set()):
                            used = {h[0] for h in head} | {p}
                            seen = {s, *(h[1] for h in head), u, w}
                            for tail in self._paths(w, s, length - 1 - k, used, seen - {w, s}):
                                route = [*head, (p, u), *tail]
                                if self._simple(route, s):
                                    yield route

    def _paths(self, x: str, y: str, m: int, used: set[int], avoid: set[str]) -> Iterator[list[tuple[int, str]]]:
        """Paths of ``m`` hops from ``x`` to ``y`` over pools not in ``used`` whose inner tokens
        are not in ``avoid`` (and not x or y)."""
        if m == 0:
            if x == y:
                yield []
            return
        if m == 1:
            for pool in self.adj.get(x, {}).get(y, ()):
                if pool not in used:
                    yield [(pool, x)]
            return
        ax, ay = self.adj.get(x, {}), self.adj.get(y, {})
        if len(ax) <= len(ay):  # extend from the end with fewer neighbours: hubs stay cheap
            for t, pools in ax.items():
                if t in avoid or t in (x, y):
                    continue
                for pool in pools:
                    if pool in used:
                        continue
                    for rest in self._paths(t, y, m - 1, used | {pool}, avoid | {x}):
                        yield [(pool, x), *rest]
            return
        for t, pools in ay.items():
            if t in avoid or t in (x, y):
                continue
            for pool in pools:
                if pool in used:
                    continue
                for rest in self._paths(x, t, m - 1, used | {pool}, avoid | {y}):
                    yield [*rest, (pool, t)]

    @staticmethod
    def _simple(route: list[tuple[int, str]], start: str) -> bool:
        tokens = [t for _, t in route]
        pools = [p for p, _ in route]
        return tokens[0] == start and len(set(tokens)) == len(tokens) and len(set(pools)) == len(pools)

    def _append(self, route: list[tuple[int, str]]) -> None:
        c = self.count
        if c == len(self.hops):
            grow = len(self.hops)
            self.pool = np.concatenate([self.pool, np.zeros((grow, MAX_HOPS), np.int32)])
            self.zero = np.concatenate([self.zero, np.zeros((grow, MAX_HOPS), np.uint8)])
            self.hops = np.concatenate([self.hops, np.zeros(grow, np.uint8)])
            self.start = np.concatenate([self.start, np.zeros(grow, np.int32)])
        for i, (slot, token_in) in enumerate(route):
            self.pool[c, i] = slot
            self.zero[c, i] = 1 if self.ends[slot][0] == token_in else 0
            self._through.setdefault(slot, []).append(c)
        self.hops[c] = len(route)
        self.start[c] = self.token_ids[route[0][1]]
        self.count = c + 1

    def index(self, slots: int) -> tuple[np.ndarray, np.ndarray]:
        """The CSR index ``(ptr, idx)`` over book slots ``0..slots-1`` (rebuilt after joins)."""
        if self._index_stale or len(self.ptr) != slots + 1:
            counts = np.zeros(slots + 1, np.int64)
            for s, cycles in self._through.items():
                if s < slots:
                    counts[s + 1] = len(cycles)
            self.ptr = np.cumsum(counts)
            self.idx = np.zeros(int(self.ptr[-1]), np.int32)
            for s, cycles in self._through.items():
                if s < slots:
                    self.idx[self.ptr[s]:self.ptr[s + 1]] = cycles
            self._index_stale = False
        return self.ptr, self.idx

    def pools_of(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """Every pool holding ``token``: its slots (int64) and whether ``token`` is its token0."""
        cached = self._pools_of.get(token)
        if cached is None:
            slots = [s for pools in self.adj.get(token, {}).values() for s in pools]
            is0 = [self.ends[s][0] == token for s in slots]
            cached = self._pools_of[token] = (np.array(slots, np.int64), np.array(is0, bool))
        return cached

    def route(self, c: int) -> list[tuple[int, bool]]:
        """Cycle ``c`` as [(slot, zero_for_one), ...]."""
        return [(int(self.pool[c, i]), bool(self.zero[c, i])) for i in range(int(self.hops[c]))]

    def start_token(self, c: int) -> str:
        """Cycle ``c``'s profit token."""
        slot = int(self.pool[c, 0])
        t0, t1 = self.ends[slot]
        return t0 if self.zero[c, 0] else t1
