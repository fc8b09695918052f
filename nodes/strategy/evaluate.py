"""From a screened cycle to an exact, fee-netted, gas-netted opportunity with its packed trade.

For each candidate cycle the evaluator reads the pools' exact states from the book (Python
ints), and for every flash source that can lend the profit token (:mod:`.lenders`) sizes the
cycle exactly (:func:`contracts.swapmath.sizing.optimum`: closed form for V2-only routes,
bounded integer search otherwise), prices the gas of that route shape
(:func:`contracts.gas_table.route_gas`, initialized V3 ticks crossed included) at the block's
base fee plus tip, converts it into the profit token through the deepest pool between the
wrapped native token and it (rounded up), and keeps the source with the highest net profit.
Nothing is kept whose exact net profit is not positive or is worth less than ``min_profit_usd``.
Every number here is an integer in raw units; floats only rank candidates and grade confidence.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import numpy as np

from contracts.arbitrage import Hop as TradeHop
from contracts.arbitrage import Trade
from contracts.gas_table import route_gas
from contracts.swapmath.cycles import Cycle, Hop, route_outputs
from contracts.swapmath.pools import V2Pool, V3Pool
from contracts.swapmath.sizing import exact_amount_out, optimum
from mesh.protocol.constants import FlashSource, PoolKind
from nodes.strategy.book import PoolBook
from nodes.strategy.graph import CycleGraph
from nodes.strategy.layout import KIND_V2, KIND_V3, M_BASE_FEE, M_BLOCK, M_RECEIVED, M_TIP
from nodes.strategy.lenders import Lender, v2_lendable, v3_lendable
from nodes.strategy.prices import convert_at, depth
from nodes.strategy.sizer import compiled_amount_out, with_deadline
from nodes.strategy.values import Deployment, Opportunity

Pool = V2Pool | V3Pool
#: FlashArbitrage's amount fields: 14 bytes for the input, 12 for a V2 hop's output.
MAX_INPUT = 2**112 - 1
#: V3 pools (cheapest fee first) tried as the lender of one cycle before giving up.
_V3_LENDERS_TRIED = 4
#: Lenders of each kind ranked per token (a route excludes at most four pools).
_LENDERS_KEPT = 8


class Evaluator:
    """Size candidate cycles of ``graph`` over ``book`` for ``deployment``.

    Parameters
    ----------
    sources : set of FlashSource
        The flash sources allowed (the fused V2 flash swap counts as UNISWAP_V2).
    min_profit_usd_q8 : int
        Smallest net profit published, USD x 1e8.
    amount_out : callable, optional
        Exact evaluator for sizing (default :func:`compiled_amount_out`; None: the reference).
        Whatever sized it, the published amounts are recomputed with the pure-Python reference
        and must agree.
    max_sizing_ns : int
        Time budget of one candidate's sizing (every flash source): past it the candidate is
        dropped with a :class:`SizingTimeout`, so one pathological route cannot stall the node.
    """

    def __init__(self, book: PoolBook, graph: CycleGraph, deployment: Deployment, *,
                 sources: frozenset[FlashSource] = frozenset(FlashSource) - {FlashSource.NONE},
                 min_profit_usd_q8: int = 0, valid_ns: int = 3_000_000_000,
                 amount_out: Callable[[Pool, bool, int], int] | None = compiled_amount_out,
                 max_sizing_ns: int = 100_000_000) -> None:
        self.book, self.graph, self.dep = book, graph, deployment
        self.sources = sources
        self.min_usd = min_profit_usd_q8
        self.valid_ns = valid_ns
        self.max_sizing_ns = max_sizing_ns
        self._deadline = [0]
        self.amount_out = with_deadline(amount_out or exact_amount_out, self._deadline)
        self._models: dict[int, Pool] = {}
        self._lenders: dict[str, tuple[list[int], list[int]]] = {}
        self._venue_known = np.zeros(1 << 16, bool)
        self._venue_known[[v & 0xFFFF for v in deployment.v2_factories]] = True
        self.skipped: dict[str, int] = {}
        #: Cycles of this pass that profit before gas but not after it (best lender each).
        self.unpaid: list[Opportunity] = []

    def begin(self) -> None:
        """Forget the pool values of the last evaluation pass (call once per consistent state)."""
        self._models.clear()
        self._lenders.clear()
        self.unpaid = []

    def _model(self, s: int) -> Pool:
        m = self._models.get(s)
        if m is None:
            m = self._models[s] = self.book.model(s)
        return m

    def _skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    # -- sizing ------------------------------------------------------------------------------------

    def evaluate(self, c: int, score: float = 0.0, now_ns: int | None = None) -> Opportunity | None:
        """The best opportunity of cycle ``c`` at the book's current block, or None."""
        book = self.book
        if book.meta[M_BASE_FEE] < 0 or book.meta[M_TIP] < 0:
            self._skip("no_gas_price")  # the block's fees were not believable
            return None
        route = self.graph.route(c)
        if any(not book.valid[s] for s, _ in route):
            self._skip("invalid_pool")
            return None
        if any(book.kind[s] == KIND_V2 and not self._venue_known[book.venue[s]] for s, _ in route):
            self._skip("unknown_factory")
            return None
        pools = {self._model(s).address: self._model(s) for s, _ in route}
        hops = []
        for s, zero in route:
            m = self._model(s)
            hops.append(Hop(m.address, m.token0 if zero else m.token1, m.token1 if zero else m.token0))
        cycle = Cycle(tuple(hops))
        start = cycle.start.lower()
        gas_price = int(book.meta[M_BASE_FEE]) + int(book.meta[M_TIP])
        best: Opportunity | None = None
        kinds = [PoolKind(int(book.kind[s])) for s, _ in route]
        self._deadline[0] = time.monotonic_ns() + self.max_sizing_ns
        # The fused V2 flash swap costs no fee and lends without a cap, so its optimum bounds what
        # any lender can earn before gas: a lender whose bound minus its least gas cannot beat the
        # best so far is not sized.
        gross_bound: int | None = None
        for lender in sorted(self.lenders(route, start), key=lambda x: not x.fused):
            if gross_bound is not None and best is not None:
                least_gas = self.convert(route_gas(lender.source, lender.fused, kinds) * gas_price,
                                         self.dep.native, start, up=True)
                if least_gas is not None and gross_bound - least_gas <= best.profit:
                    self._skip("lender_pruned")
                    continue
            sized = optimum(pools, cycle, lender.fee, amount_out=self.amount_out,
                            max_input=min(lender.cap, MAX_INPUT))
            if lender.fused:
                gross_bound = sized.profit if sized is not None else 0
            if sized is None:
                continue
            outs, crossed = route_outputs(pools, cycle, sized.amount_in)
            if outs[-1] != sized.amount_out:
                self._skip("sizing_mismatch")
                continue
            gas = route_gas(lender.source, lender.fused, kinds, crossed)
            gas_cost = self.convert(gas * gas_price, self.dep.native, start, up=True)
            if gas_cost is None:
                self._skip("no_gas_price")
                continue
            profit = sized.profit - gas_cost
            if best is not None and profit <= best.profit:
                continue
            best = self._opportunity(c, route, cycle, pools, lender, sized.amount_in, outs, sized.premium,
                                     gas, gas_price, gas_cost, profit, score, now_ns)
        if best is None or best.profit <= 0:
            self._skip("unprofitable")
            if best is not None:
                self.unpaid.append(best)
            return None
        if best.profit_usd_q8 < self.min_usd:
            self._skip("below_minimum")
            return None
        return best

    # -- lenders -----------------------------------------------------------------------------------

    def lenders(self, route: list[tuple[int, bool]], start: str) -> list[Lender]:
        """Every flash source allowed that can lend ``start`` to this route."""
        book, dep = self.book, self.dep
        on_route = {s for s, _ in route}
        out: list[Lender] = []
        last = route[-1][0]
        if FlashSource.UNISWAP_V2 in self.sources and book.kind[last] == KIND_V2:
            out.append(Lender(FlashSource.UNISWAP_V2, self._model(last).address, True, 0, MAX_INPUT, last))
        if FlashSource.AAVE_V3 in self.sources and dep.aave_pool and start in dep.aave_caps:
            out.append(Lender(FlashSource.AAVE_V3, dep.aave_pool, False, dep.aave_premium_bps,
                              dep.aave_caps[start]))
        v2, v3 = self._lender_pools(start)
        if FlashSource.UNISWAP_V2 in self.sources:
            for slot in v2:
                if slot not in on_route:
                    m = self._model(slot)
                    assert isinstance(m, V2Pool)
                    out.append(Lender(FlashSource.UNISWAP_V2, m.address, False, int(book.fee[slot]),
                                      v2_lendable(m, start), slot))
                    break
        if FlashSource.UNISWAP_V3 in self.sources:
            for slot in v3[:_V3_LENDERS_TRIED]:
                if slot in on_route:
                    continue
                m = self._model(slot)
                assert isinstance(m, V3Pool)
                cap = v3_lendable(m, start)
                if cap > 0:
                    out.append(Lender(FlashSource.UNISWAP_V3, m.address, False, m.fee, cap, slot))
                    break
        return [x for x in out if x.cap > 0]

    def _lender_pools(self, token: str) -> tuple[list[int], list[int]]:
        """The best lenders of ``token`` among the usable pools, read from the book's arrays once
        per pass (vectorized): V2 pairs on a known factory by reserve of it (deepest first), V3
        pools by fee (cheapest first) then in-range liquidity; a few of each (a route can exclude
        at most four)."""
        cached = self._lenders.get(token)
        if cached is not None:
            return cached
        book = self.book
        slots, is0 = self.graph.pools_of(token)
        usable = book.valid[slots] != 0
        kind = book.kind[slots]
        v2 = usable & (kind == KIND_V2) & self._venue_known[book.venue[slots]]
        r = book.r[slots].astype(np.float64)
        reserve = np.where(is0, r[:, 0] + r[:, 1] * 2.0**64, r[:, 2] + r[:, 3] * 2.0**64)
        v2_slots = slots[v2][np.argsort(-reserve[v2], kind="stable")][:_LENDERS_KEPT]
        v3 = usable & (kind == KIND_V3)
        liq = book.liq[slots].astype(np.float64)
        depth = liq[:, 0] + liq[:, 1] * 2.0**64
        v3_slots = slots[v3][np.lexsort((-depth[v3], book.fee[slots][v3]))][:_LENDERS_KEPT]
        self._lenders[token] = cached = ([int(x) for x in v2_slots], [int(x) for x in v3_slots])
        return cached

    # -- prices ------------------------------------------------------------------------------------

    def convert(self, amount: int, src: str, dst: str, *, up: bool) -> int | None:
        """``amount`` of ``src`` in raw units of ``dst`` at the deepest direct pool's price
        (rounded up for costs, down for values); None when no valid pool joins them."""
        src, dst = src.lower(), dst.lower()
        if src == dst or amount == 0:
            return amount
        best, deepest = None, -1.0
        for s in self.graph.adj.get(src, {}).get(dst, ()):
            if not self.book.valid[s]:
                continue
            m = self._model(s)
            d = depth(m, dst)
            if d > deepest:
                best, deepest = m, d
        if best is None:
            return None
        return convert_at(best, amount, src, up=up)

    def usd_q8(self, amount: int, token: str) -> int | None:
        """``amount`` of ``token`` in USD x 1e8, through the configured USD token (rounded down)."""
        sign = -1 if amount < 0 else 1
        usd = self.convert(abs(amount), token, self.dep.usd_token, up=False)
        if usd is None:
            return None
        return sign * (usd * 10**8 // 10**self.dep.usd_decimals)

    # -- the published value ---------------------------------------------------------------------

    def _opportunity(self, c: int, route: list[tuple[int, bool]], cycle: Cycle, pools: Mapping[str, Pool],
                     lender: Lender,
                     amount_in: int, outs: tuple[int, ...], flash_fee: int, gas: int, gas_price: int,
                     gas_cost: int, profit: int, score: float, now_ns: int | None) -> Opportunity:
        book, dep = self.book, self.dep
        hops = []
        for (s, _), hop, out in zip(route, cycle.hops, outs, strict=True):
            v2 = book.kind[s] == KIND_V2
            hops.append(TradeHop(hop.pool, PoolKind.UNISWAP_V2 if v2 else PoolKind.UNISWAP_V3,
                                 hop.token_in, hop.token_out, out if v2 else 0, int(book.fee[s]),
                                 dep.v2_factories.get(int(book.venue[s]), 0) if v2 else 0))
        lender_tokens, lender_factory = None, 0
        if lender.pool >= 0 and not lender.fused:
            lender_tokens = (self._model(lender.pool).token0, self._model(lender.pool).token1)
            if lender.source == FlashSource.UNISWAP_V2:
                lender_factory = dep.v2_factories.get(int(book.venue[lender.pool]), 0)
        trade = Trade(tuple(hops), amount_in, lender.address, lender.source, max(1, gas_cost),
                      dep.recipient, lender_tokens, None, lender.fee_rate, lender_factory)
        usd = self.usd_q8(profit, cycle.start)
        return Opportunity(c, int(book.meta[M_BLOCK]), tuple(hops), amount_in, outs, lender, flash_fee,
                           gas, gas_price, gas_cost, profit, usd if usd is not None else 0,
                           self._confidence(score, amount_in, outs, cycle, pools, now_ns), trade)

    def _confidence(self, score: float, amount_in: int, outs: tuple[int, ...], cycle: Cycle,
                    pools: Mapping[str, Pool], now_ns: int | None) -> int:
        """A grade in bps, the product of three factors in [0, 1] (a heuristic for ranking,
        never for what is sent):

        - fresh: 1 - the state's age (since its ``BlockEnd`` was received) over ``valid_ns``;
        - price move: 1 - half the share of the marginal log rate the trade's own impact eats
          (realized ``log(out / in)`` against the screen's score);
        - depth: 1 - the largest share of a pool's depth (its holding of the hop's input token
          near the price) that one hop puts in.
        """
        received = int(self.book.meta[M_RECEIVED])
        now = time.time_ns() if now_ns is None else now_ns
        age = max(0.0, (now - received) / self.valid_ns) if received else 1.0
        fresh = max(0.0, 1.0 - age)
        realized = math.log(outs[-1] / amount_in) if amount_in and outs[-1] else -math.inf
        move = min(1.0, max(0.0, score - realized) / max(score, 1e-12)) if score > 0 else 1.0
        share = 0.0
        for hop, x in zip(cycle.hops, (amount_in, *outs[:-1]), strict=True):
            held = depth(pools[hop.pool], hop.token_in.lower())
            share = max(share, min(1.0, x / held) if held > 0 else 1.0)
        return int(10000 * fresh * (1.0 - 0.5 * move) * (1.0 - share))
