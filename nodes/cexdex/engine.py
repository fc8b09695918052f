"""One evaluation of a CEX pair: every candidate pool, both directions, sized and priced.

For each pool of the manifest holding the pair's two tokens (with a known state at the last
complete block): the DEX leg's gas (units per pool kind × the last BlockEnd's base fee plus
priority fee) in raw quote at a pool's price (rounded up), a float screen of each direction at
zero size (the CEX best net of the taker fee against the pool's marginal price after its fee),
the exact sizing (:mod:`nodes.cexdex.sizing`) of the directions that pass, the profit in USD
(the quote token counted 1:1 when it is one of ``usd_tokens``, else at a pool's price into
one), and the threshold. A pool and direction publish at most once per block for the same CEX
prices (best and average price of the sized leg).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mesh.protocol.constants import CexDexDirection, PoolKind
from mesh.protocol.messages import CexDexSignal
from nodes.cexdex.books import CexBooks
from nodes.cexdex.config import PairSpec, PoolSpec, Token
from nodes.cexdex.pools import Pool, PoolStore
from nodes.cexdex.signal import Context, signal
from nodes.cexdex.sizing import Market, screen, size, spread_bps
from nodes.strategy.prices import convert_at, depth

DIRECTIONS = (CexDexDirection.BUY_DEX_SELL_CEX, CexDexDirection.BUY_CEX_SELL_DEX)


@dataclass(frozen=True, slots=True)
class Settings:
    """The evaluation's configuration (the node's keys, parsed)."""

    native: Token
    usd_tokens: tuple[Token, ...]
    taker_fee_ppm: int
    lot_q8: int
    min_profit_usd_q8: int
    gas_units: Mapping[PoolKind, int]
    valid_ns: int
    strategy_id: int


@dataclass(slots=True)
class Tally:
    """What the evaluations did: for the metrics and the log."""

    evaluations: int = 0
    signals: Counter[tuple[str, str]] = field(default_factory=Counter)
    spread_bps: dict[tuple[str, str, str], float] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)


class Evaluator:
    """Sizes the pairs over the pools and books it is given.

    Parameters
    ----------
    pairs : sequence of PairSpec
    pools : PoolStore
        Its ``specs`` are the manifest's pools.
    books : CexBooks
    settings : Settings
    """

    def __init__(self, pairs: Sequence[PairSpec], pools: PoolStore, books: CexBooks, settings: Settings) -> None:
        self.pairs = list(pairs)
        self.pools = pools
        self.books = books
        self.settings = settings
        self.tally = Tally()
        self.candidates: dict[int, list[PoolSpec]] = {
            p.instrument.cache_key(): [s for s in pools.specs.values() if s.holds(p.base.address, p.quote.address)]
            for p in self.pairs}
        self.by_instrument = {p.instrument.cache_key(): p for p in self.pairs}
        self.by_pool: dict[str, list[PairSpec]] = {}
        for p in self.pairs:
            for s in self.candidates[p.instrument.cache_key()]:
                self.by_pool.setdefault(s.address, []).append(p)
        self._last: dict[tuple[int, str, int], tuple[int, int, int]] = {}
        self._ids = 0

    def pairs_of_pools(self, addresses: set[str]) -> set[int]:
        """The pairs (instrument keys) whose candidate pools are among ``addresses``."""
        return {p.instrument.cache_key() for a in addresses for p in self.by_pool.get(a, ())}

    def evaluate(self, key: int, now_ns: int, id_base: int) -> list[CexDexSignal]:
        """Evaluate one pair (by instrument key): the signals to publish."""
        pair = self.by_instrument.get(key)
        book = self.books.get(key)
        gas_price = self.pools.gas_price_wei
        end = self.pools.block_end
        if pair is None or book is None or gas_price is None or end is None:
            return []
        st = self.settings
        out: list[CexDexSignal] = []
        for spec in self.candidates[key]:
            model = self.pools.model(spec.address)
            if model is None:
                continue
            gas_cost = self.convert(st.gas_units[spec.kind] * gas_price, st.native.address, pair.quote.address,
                                    up=True, prefer=model)
            if gas_cost is None:
                self.tally.skipped["no_gas_price"] += 1
                continue
            market = Market(model, pair.base.address, pair.quote.address, pair.base.decimals,
                            pair.quote.decimals, book.bids, book.asks, st.taker_fee_ppm, st.lot_q8, gas_cost)
            for direction in DIRECTIONS:
                self.tally.evaluations += 1
                spread = spread_bps(market, direction)
                if spread is not None:
                    self.tally.spread_bps[(pair.label, spec.address, direction.name.lower())] = spread
                if not screen(market, direction):
                    continue
                sized = size(market, direction)
                if sized is None or sized.profit <= 0:
                    continue
                usd = self.usd_q8(sized.profit, pair.quote, model)
                if usd is None:
                    self.tally.skipped["no_usd_price"] += 1
                    continue
                if usd < st.min_profit_usd_q8:
                    continue
                best = (book.bids if direction == CexDexDirection.BUY_DEX_SELL_CEX else book.asks)[0][0]
                seen = (end.block_number, best, sized.cex_price)
                mark = (key, spec.address, int(direction))
                if self._last.get(mark) == seen:
                    continue
                self._last[mark] = seen
                self._ids += 1
                ctx = Context((id_base << 20) + self._ids, end.chain_id, end.block_number, now_ns + st.valid_ns,
                              book.timestamp_ns, best, usd, st.taker_fee_ppm, st.strategy_id)
                out.append(signal(sized, pair, spec, ctx))
                self.tally.signals[(pair.label, direction.name.lower())] += 1
        return out

    # -- prices --------------------------------------------------------------------------------

    def convert(self, amount: int, src: str, dst: str, *, up: bool, prefer: Pool | None = None) -> int | None:
        """``amount`` of ``src`` in raw units of ``dst``: as is when they are the same token, at
        ``prefer``'s price when it joins them, else at the deepest manifest pool joining them
        (rounded up for costs, down for values); None without a pool."""
        if src == dst or amount == 0:
            return amount
        if prefer is not None and {prefer.token0, prefer.token1} == {src, dst}:
            return convert_at(prefer, amount, src, up=up)
        best, deepest = None, -1.0
        for spec in self.pools.specs.values():
            if spec.holds(src, dst):
                m = self.pools.model(spec.address)
                if m is not None and (d := depth(m, dst)) > deepest:
                    best, deepest = m, d
        return None if best is None else convert_at(best, amount, src, up=up)

    def usd_q8(self, amount: int, token: Token, prefer: Pool | None = None) -> int | None:
        """``amount`` (> 0) raw of ``token`` in USD × 1e8, rounded down: 1:1 for a USD token,
        else through a pool into one; None without a price."""
        for usd in self.settings.usd_tokens:
            if usd.address == token.address:
                return amount * 10**8 // 10**token.decimals
        for usd in self.settings.usd_tokens:
            value = self.convert(amount, token.address, usd.address, up=False, prefer=prefer)
            if value is not None:
                return value * 10**8 // 10**usd.decimals
        return None
