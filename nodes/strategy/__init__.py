"""The strategy node: exact multi-hop V2/V3 arbitrage from the market-data rings.

Each ring batch is applied to the struct-of-arrays book in compiled code
(:func:`nodes.strategy.apply.apply_frames`), which stops at every ``BlockEnd``: there (a consistent
state, see
docs/market-data.md) the loop adds new pools to the cycle graph (:mod:`.graph`), screens only the
cycles through the pools that changed (:mod:`.screen`, float), sizes the candidates exactly for
every flash source (:mod:`.evaluate`) and publishes each profitable one, net of fees and gas, as
``[ArbitrageOpportunity, ArbitrageRoute]`` on the signal domain: the route carries every hop's
exact output and the packed FlashArbitrage trade, so an executor only checks and signs. The
block's trace follows them, one span deeper (docs/tracing.md).
docs/strategy.md says what is exact and what is estimated.
"""

from __future__ import annotations

import time

from alphapulse.errors import ConfigError
from contracts.devnet import DevnetPaths
from mesh.protocol import ArbitrageOpportunity
from mesh.protocol.constants import FlashSource, RelayDomain, SourceType
from mesh.protocol.messages import ArbitrageRoute, TraceContext
from mesh.rings import RingBatch
from nodes.runtime import ConfigKey, Contract, Node
from nodes.strategy.book import PoolBook
from nodes.strategy.deployment import load_deployment
from nodes.strategy.engine import Engine
from nodes.strategy.evaluate import Evaluator
from nodes.strategy.graph import CycleGraph
from nodes.strategy.layout import ERROR_KINDS, M_RECEIVED
from nodes.strategy.metrics import StrategyMetrics
from nodes.strategy.publish import opportunity_frame
from nodes.strategy.screen import Screen
from nodes.strategy.values import Opportunity
from nodes.tracing.spans import PROCESSED, carry

__all__ = ["StrategyNode"]

_RETRY_S = 2.0
_SOURCES = {"aave": FlashSource.AAVE_V3, "v2": FlashSource.UNISWAP_V2, "v3": FlashSource.UNISWAP_V3}


class StrategyNode(Node):
    """Find, size and publish arbitrage cycles over the pools of the market-data rings."""

    CONTRACT = Contract(
        kind="strategy",
        role="Exact multi-hop V2/V3 arbitrage over the market-data rings, net of fees and gas.",
        source=SourceType.ARBITRAGE_STRATEGY,
        produces=(ArbitrageOpportunity, ArbitrageRoute, TraceContext),
        reads=(RelayDomain.MARKET_DATA,),
        obeys_stop=True,
        config={
            "manifest": ConfigKey("", "tokens, venues, FlashArbitrage and Aave (JSON); empty = the devnet's"),
            "rpc_url": ConfigKey("", "JSON-RPC endpoint for the start-up reads; empty = the manifest's"),
            "recipient": ConfigKey("", "where FlashArbitrage sends the profit; empty = the manifest's deployer"),
            "profit_tokens": ConfigKey("WETH,USDC,DAI", "tokens cycles start and end at (symbols or addresses)"),
            "native_token": ConfigKey("WETH", "the wrapped native token gas is priced in"),
            "usd_token": ConfigKey("USDC", "the token whose unit is one USD"),
            "flash_sources": ConfigKey("aave,v2,v3", "flash sources allowed (v2 includes the fused flash swap)"),
            "max_hops": ConfigKey(4, "longest cycle, 2 to 4 hops"),
            "max_cycles_per_pool": ConfigKey(4096, "most cycles added when one pool joins"),
            "min_profit_usd": ConfigKey(0.0, "smallest net profit published, USD"),
            "max_candidates": ConfigKey(64, "most screened cycles sized per block"),
            "max_sizing_ms": ConfigKey(100, "time budget of one candidate's exact sizing; past it, dropped"),
            "max_pass_ms": ConfigKey(1000, "time budget of one block's sizing; candidates left wait for the next"),
            "valid_blocks": ConfigKey(2, "an opportunity expires this many blocks after its state"),
            "valid_ms": ConfigKey(3000, "and this long after it was published"),
            "capacity": ConfigKey(4096, "most pools in the book"),
            "ticks_per_pool": ConfigKey(512, "most initialized ticks held per V3 pool"),
            "word_radius": ConfigKey(8, "the collector's word_radius: tick-bitmap words known each side"),
            "strategy_id": ConfigKey(1, "strategy_id of the published opportunities"),
        },
    )

    def on_start(self) -> None:
        """Allocate the book; load the deployment (retried until the chain answers)."""
        s = self.rt.settings
        self.book = PoolBook(int(s["capacity"]), int(s["ticks_per_pool"]), int(s["word_radius"]))
        self.screen = Screen(max_candidates=int(s["max_candidates"]))
        self.engine: Engine | None = None
        self._next_try = 0.0
        self._id_base = time.time_ns() // 1_000_000
        self._reported = [0] * len(ERROR_KINDS)
        self.published = 0
        self.withheld = 0  # sized while a stop was raised: not published
        self.deferred = 0  # candidates left to the next block by max_pass_ms
        self._trace_counted = b""
        self.metrics = StrategyMetrics(self.rt.name, self.rt.metrics.registry if self.rt.metrics else None,
                                       self._counts, (int(s["strategy_id"]),))
        self._try_load()

    def _try_load(self) -> None:
        s = self.rt.settings
        try:
            sources = frozenset(_SOURCES[x.strip()] for x in str(s["flash_sources"]).split(",") if x.strip())
        except KeyError as exc:
            raise ConfigError(f"unknown flash source {exc} (known: {', '.join(_SOURCES)})") from None
        try:
            dep, profit, _chain = load_deployment(s, str(DevnetPaths.of().manifest))
        except ConfigError as exc:
            self._next_try = time.monotonic() + _RETRY_S
            self.rt.stats.error(exc.kind)
            self.rt.log.warning("strategy: %s (retrying)", exc)
            return
        graph = CycleGraph(profit, int(s["max_hops"]), int(s["max_cycles_per_pool"]))
        evaluator = Evaluator(self.book, graph, dep, sources=sources,
                              min_profit_usd_q8=round(float(s["min_profit_usd"]) * 10**8),
                              valid_ns=int(s["valid_ms"]) * 1_000_000,
                              max_sizing_ns=int(s["max_sizing_ms"]) * 1_000_000)
        self.engine = Engine(self.book, graph, evaluator, self.screen, int(s["max_pass_ms"]) * 1_000_000)
        self.engine.warm_up()
        self.rt.log.info("strategy: trading through %s on chain %d, profit tokens %s", dep.arbitrage,
                         dep.chain_id, ", ".join(profit))

    def on_ring_batch(self, batch: RingBatch) -> None:
        """Apply the batch in compiled code, evaluating and publishing at every BlockEnd."""
        if self.engine is None or self.rt.halted():
            i = 0
            while i < batch.count:  # keep the book current; publish nothing (halted: obey the stop)
                i = self.book.apply(batch.data, batch.offsets, i, batch.count)
            if self.engine is not None:  # the changed pools stay dirty: evaluated on resume
                self.engine.join_new_pools()
                self.engine.block_ended()
            return
        self.metrics.batch(batch.data, batch.offsets, batch.count)
        self.engine.feed(batch.data, batch.offsets, batch.count, time.time_ns(), self._publish)
        for kind, n in self.engine.errors.items():
            self.rt.stats.errors[kind] += n
        self.engine.errors.clear()
        self.deferred += self.engine.deferred
        self.engine.deferred = 0
        self._count_book_errors()

    def _publish(self, opp: Opportunity) -> None:
        """Publish one opportunity the moment it is sized (unless a stop came in meanwhile)."""
        assert self.engine is not None
        self._count_book_errors()
        if self.rt.halted():
            self.withheld += 1
            return
        s = self.rt.settings
        now = time.time_ns()
        traced = carry(self.engine.block_frame, SourceType.ARBITRAGE_STRATEGY, PROCESSED, now,
                       start_ns=int(self.book.meta[M_RECEIVED]) or now)
        if self.engine.block_frame is not self._trace_counted:  # a block's bad spans count once
            self._trace_counted = self.engine.block_frame
            for kind in traced.problems:
                self.rt.stats.error(kind)
        self.rt.publish(opportunity_frame(opp, self.engine.evaluator, self._id_base, int(s["strategy_id"]),
                                          opp.block + int(s["valid_blocks"]), now + int(s["valid_ms"]) * 1_000_000,
                                          traced.spans))
        self.published += 1
        self.metrics.published(int(s["strategy_id"]), opp.profit_usd_q8, time.time_ns())

    def on_tick(self, now_ns: int) -> int:
        """Count the book's input errors; retry loading the deployment until it loads."""
        self._count_book_errors()
        if self.engine is None and time.monotonic() >= self._next_try:
            self._try_load()
            return 1
        return 0

    def on_stop(self) -> None:
        """Log what the node did."""
        self._count_book_errors()
        self.rt.log.info("strategy: %d opportunities published, %d withheld by a stop, %d candidates deferred; "
                         "%d pools, %d cycles; input errors %s", self.published, self.withheld, self.deferred,
                         self.book.pools, self.engine.graph.count if self.engine else 0,
                         {k: v for k, v in self.book.error_counts().items() if v})

    def _counts(self) -> dict[str, int]:
        """What the metrics export beside their own counts (scrape thread: reads only)."""
        engine = self.engine
        return {"withheld": self.withheld, "deferred": self.deferred, "pools": int(self.book.pools),
                "cycles": engine.graph.count if engine else 0}

    def _count_book_errors(self) -> None:
        for i, kind in enumerate(ERROR_KINDS):
            n = int(self.book.errors[i])
            if n != self._reported[i]:
                self.rt.stats.errors[kind] += n - self._reported[i]
                self._reported[i] = n
