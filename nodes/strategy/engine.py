"""The strategy without the node: book, graph, screen and evaluator wired together.

The node (:class:`nodes.strategy.StrategyNode`) feeds it ring batches and publishes what
:meth:`Engine.evaluate` returns; tests and ``python -m bench strategy`` drive it directly with
the same frames. Thread safety: one thread owns an engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from alphapulse.errors import AlphaPulseError
from contracts.swapmath import compiled
from contracts.swapmath.cycles import Cycle, Hop
from contracts.swapmath.pools import V2Pool, V3Pool
from contracts.swapmath.sizing import optimum
from nodes.strategy.book import PoolBook
from nodes.strategy.evaluate import Evaluator
from nodes.strategy.graph import CycleGraph
from nodes.strategy.layout import M_BLOCK_ENDS
from nodes.strategy.screen import Screen
from nodes.strategy.values import Opportunity


@dataclass(slots=True)
class PassCounts:
    """What one evaluation pass did."""

    dirty: int = 0
    screened: int = 0
    candidates: int = 0
    deferred: int = 0
    opportunities: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class Engine:
    """Pools in, opportunities out, at each consistent state of the book."""

    def __init__(self, book: PoolBook, graph: CycleGraph, evaluator: Evaluator, screen: Screen,
                 max_pass_ns: int = 0) -> None:
        """``max_pass_ns`` (0: none) bounds one pass's sizing: the candidates left when it runs
        out are deferred (their pools marked changed again, so the next pass screens them)."""
        self.book, self.graph, self.evaluator, self.screen = book, graph, evaluator, screen
        self.max_pass_ns = max_pass_ns
        self._seen_block_ends = int(book.meta[M_BLOCK_ENDS])
        self.last = PassCounts()
        #: Errors and deferred candidates of every pass since the owner last drained them.
        self.errors: dict[str, int] = {}
        self.deferred = 0
        #: The frame holding the last BlockEnd :meth:`feed` applied (its trace, docs/tracing.md).
        self.block_frame = b""

    def warm_up(self) -> None:
        """Compile (or load from numba's cache) every kernel the first opportunity needs, so the
        first block does not pay for it: the screen, the V2 sizing and the compiled V3 swap."""
        a, b = "0x" + "01" * 20, "0x" + "02" * 20
        pairs = {p: V2Pool(p, a, b, 10**21, 2 * 10**21) for p in ("0x" + "0a" * 20, "0x" + "0b" * 20)}
        pairs["0x" + "0b" * 20] = V2Pool("0x" + "0b" * 20, a, b, 10**21, 3 * 10**21)
        route = Cycle((Hop("0x" + "0b" * 20, b, a), Hop("0x" + "0a" * 20, a, b)))
        optimum(pairs, route, None)
        pool = V3Pool("0x" + "0c" * 20, a, b, 3000, 60, 2**96, 0, 10**18, (-60, 60), {-60: 10**18, 60: -10**18},
                      {-60: 10**18, 60: 10**18}, -2, 2)
        compiled.swap(pool, True, 10**15)
        self.screen.run(np.zeros(0, np.int32), self.graph, self.book.rate, self.book.pools)

    def block_ended(self) -> bool:
        """True once per new ``BlockEnd`` applied to the book since the last call."""
        ends = int(self.book.meta[M_BLOCK_ENDS])
        if ends == self._seen_block_ends:
            return False
        self._seen_block_ends = ends
        return True

    def join_new_pools(self) -> int:
        """Add the pools the book created since the last call to the graph; cycles added."""
        added = 0
        for slot in self.book.take_fresh():
            t0, t1 = self.book.tokens(int(slot))
            added += self.graph.add_pool(int(slot), t0, t1)
        return added

    def evaluate(self, now_ns: int | None = None,
                 on_found: Callable[[Opportunity], None] | None = None) -> list[Opportunity]:
        """Screen the cycles through the pools changed since the last pass and size the
        candidates exactly; the profitable ones, best screen score first. ``on_found`` is called
        with each as soon as it is sized (the node publishes it there, before sizing the next)."""
        self.join_new_pools()
        dirty = self.book.take_dirty()
        counts = self.last = PassCounts(dirty=len(dirty))
        if not len(dirty):
            return []
        cycles, scores, counts.screened = self.screen.run(dirty, self.graph, self.book.rate, self.book.pools)
        counts.candidates = len(cycles)
        self.evaluator.begin()
        now = time.time_ns() if now_ns is None else now_ns
        deadline = time.monotonic_ns() + self.max_pass_ns if self.max_pass_ns else 0
        found = []
        for k, (c, score) in enumerate(zip(cycles, scores, strict=True)):
            if k and deadline and time.monotonic_ns() > deadline:  # at least one per pass
                left = cycles[k:]
                self.book.mark_dirty(int(slot) for c_left in left for slot, _ in self.graph.route(int(c_left)))
                counts.deferred = len(left)
                self.deferred += len(left)
                break
            try:
                opp = self.evaluator.evaluate(int(c), float(score), now)
            except AlphaPulseError as exc:
                counts.errors[exc.kind] = counts.errors.get(exc.kind, 0) + 1
                self.errors[exc.kind] = self.errors.get(exc.kind, 0) + 1
                continue
            if opp is not None:
                found.append(opp)
                if on_found is not None:
                    on_found(opp)
        counts.opportunities = len(found)
        return found

    def feed(self, data: np.ndarray, offsets: np.ndarray, count: int, now_ns: int | None = None,
             on_found: Callable[[Opportunity], None] | None = None) -> list[Opportunity]:
        """Apply a ring batch (frame ``i`` is ``data[offsets[i]:offsets[i + 1]]``), evaluating at
        every ``BlockEnd`` in it; every opportunity found, in order (see :meth:`evaluate`)."""
        found: list[Opportunity] = []
        i = 0
        while i < count:
            i = self.book.apply(data, offsets, i, count)
            if self.block_ended():
                self.block_frame = bytes(data[offsets[i - 1]:offsets[i]])
                found.extend(self.evaluate(now_ns, on_found))
        return found

    def feed_frames(self, frames: list[bytes], now_ns: int | None = None) -> list[Opportunity]:
        """:meth:`feed` for a list of encoded frames."""
        offsets = np.zeros(len(frames) + 1, np.int64)
        np.cumsum([len(f) for f in frames], out=offsets[1:])
        return self.feed(np.frombuffer(b"".join(frames), np.uint8), offsets, len(frames), now_ns)
