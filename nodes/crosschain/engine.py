"""The crosschain evaluation: pools of one asset on two chains, both directions, sized exactly.

Each chain's pools are a :class:`nodes.cexdex.pools.PoolStore` (the reference consumer of the
collector stream, applied one complete block at a time). A *pair* is a pool of chain A and a
pool of chain B trading the same asset ``X`` against the same quote ``Q``. At each ``BlockEnd``
of either chain the pairs whose pools the block touched join a queue; at most ``max_pairs``
are evaluated per block (the rest wait for the next), each in both directions by
:func:`contracts.swapmath.crosschain.optimise`: gas per leg is the chain's gas units times its
last ``BlockEnd``'s base fee plus tip, in ``Q`` at a pool of that chain (rounded up); the profit
is valued in USD on the source chain (down), the bridge's cost (its fee in ``X`` at the source
pool's price plus the latency haircut) up. A chain without a ``BlockEnd`` for ``stale_s`` seconds
is stale: its pairs are not evaluated (counted) until the next block of either chain. A direction publishes again only when its
sizes or profit changed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from contracts.swapmath.crosschain import Leg, Legs, Route, optimise, rescale
from contracts.swapmath.libs import SwapReverted
from contracts.swapmath.pools import TicksUnknown
from mesh.protocol.constants import PoolKind, VenueId
from mesh.protocol.messages import CrossChainArbitrageSignal, CrossChainLegs
from nodes.cexdex.config import PoolSpec, Token
from nodes.cexdex.pools import Pool, PoolStore
from nodes.crosschain.config import Asset, ChainSide, bridge
from nodes.strategy.prices import convert_at, depth

I64_MAX = 2**63 - 1
VENUES = {PoolKind.UNISWAP_V2: VenueId.UNISWAP_V2, PoolKind.UNISWAP_V3: VenueId.UNISWAP_V3}
DIRECTIONS = ("a_to_b", "b_to_a")


@dataclass(frozen=True, slots=True)
class Settings:
    """The evaluation's configuration (the node's keys, parsed)."""

    bridge: Mapping[str, int]
    gas_units: Mapping[PoolKind, int]
    native: tuple[Token, Token]
    usd_tokens: tuple[tuple[Token, ...], tuple[Token, ...]]
    min_profit_usd_q8: int
    valid_ns: int
    stale_ns: int
    max_pairs: int
    strategy_id: int
    bridge_venue: int
    same_address: bool = False


@dataclass(frozen=True, slots=True)
class Pair:
    """A pool of chain A and one of chain B trading one asset."""

    asset: Asset
    a: PoolSpec
    b: PoolSpec

    @property
    def key(self) -> tuple[str, str, str]:
        """(asset label, pool A, pool B)."""
        return self.asset.label, self.a.address, self.b.address


@dataclass(slots=True)
class Tally:
    """What the evaluations did: for the metrics and the log."""

    evaluations: int = 0
    signals: Counter[tuple[str, str]] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    best_usd_q8: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Found:
    """One sized direction ready to publish: the signal, its legs record (one frame) and the legs."""

    signal: CrossChainArbitrageSignal
    record: CrossChainLegs
    legs: Legs
    pair: Pair
    direction: str
    blocks: tuple[int, int]


class Evaluator:
    """Pairs of pools across two chains, evaluated on each block end.

    Parameters
    ----------
    chains : the two :class:`ChainSide` (A then B)
    stores : the two :class:`PoolStore` (their ``specs`` the chains' pools)
    assets : the resolved assets
    settings : Settings
    """

    def __init__(self, chains: Sequence[ChainSide], stores: Sequence[PoolStore], assets: Sequence[Asset],
                 settings: Settings) -> None:
        self.chains = tuple(chains)
        self.stores = tuple(stores)
        self.settings = settings
        self.tally = Tally()
        self.pairs: list[Pair] = []
        for asset in assets:
            on_a = [s for s in chains[0].pools.values() if s.holds(asset.x[0].address, asset.q[0].address)]
            on_b = [s for s in chains[1].pools.values() if s.holds(asset.x[1].address, asset.q[1].address)]
            self.pairs += [Pair(asset, a, b) for a in on_a for b in on_b
                           if not settings.same_address or a.address == b.address]
        self.by_pool: tuple[dict[str, list[int]], dict[str, list[int]]] = ({}, {})
        for i, p in enumerate(self.pairs):
            self.by_pool[0].setdefault(p.a.address, []).append(i)
            self.by_pool[1].setdefault(p.b.address, []).append(i)
        self.queue: dict[int, None] = {}
        #: Pairs skipped while a chain was stale: queued again at the next block of either chain.
        self.deferred: dict[int, None] = {}
        self.last_end_ns = [0, 0]
        self._last: dict[tuple[tuple[str, str, str], str], tuple[int, int, int]] = {}
        self._ids = 0

    def block_applied(self, chain: int, touched: set[str], now_mono_ns: int) -> None:
        """A block of ``chain`` was applied: queue the pairs of the pools it touched, and those
        deferred while a chain was stale."""
        self.last_end_ns[chain] = now_mono_ns
        self.queue.update(self.deferred)
        self.deferred.clear()
        for address in sorted(touched):
            for i in self.by_pool[chain].get(address, ()):
                self.queue[i] = None

    def stale(self, chain: int, now_mono_ns: int) -> bool:
        """No BlockEnd of ``chain`` for ``stale_s`` (or none yet)."""
        last = self.last_end_ns[chain]
        return last == 0 or now_mono_ns - last > self.settings.stale_ns

    def run(self, now_ns: int, id_base: int, now_mono_ns: int | None = None) -> list[Found]:
        """Evaluate up to ``max_pairs`` queued pairs (oldest first): what to publish."""
        mono = time.monotonic_ns() if now_mono_ns is None else now_mono_ns
        out: list[Found] = []
        for _ in range(min(self.settings.max_pairs, len(self.queue))):
            i = next(iter(self.queue))
            del self.queue[i]
            pair = self.pairs[i]
            if self.stale(0, mono) or self.stale(1, mono):
                self.tally.skipped["stale_chain"] += 1
                self.deferred[i] = None
                continue
            for direction in DIRECTIONS:
                found = self._direction(pair, direction, now_ns, id_base)
                if found is not None:
                    out.append(found)
        return out

    def _direction(self, pair: Pair, direction: str, now_ns: int, id_base: int) -> Found | None:
        src, dst = (0, 1) if direction == "a_to_b" else (1, 0)
        specs = (pair.a, pair.b)
        models = (self.stores[0].model(pair.a.address), self.stores[1].model(pair.b.address))
        m_src, m_dst = models[src], models[dst]
        if m_src is None or m_dst is None:
            return None
        asset, st = pair.asset, self.settings
        gas = (self._gas(src, specs[src], asset.q[src], m_src), self._gas(dst, specs[dst], asset.q[dst], m_dst))
        if gas[0] is None or gas[1] is None:
            self.tally.skipped["no_gas_price"] += 1
            return None
        fixed = asset.fixed_x if src == 0 else rescale(asset.fixed_x, asset.x[0].decimals, asset.x[1].decimals, up=True)
        route = Route(self._leg(m_src, asset, src), self._leg(m_dst, asset, dst), bridge(st.bridge, fixed),
                      gas[0], gas[1])
        self.tally.evaluations += 1
        try:
            legs = optimise(route)
        except (SwapReverted, TicksUnknown) as exc:
            self.tally.skipped[exc.kind] += 1
            return None
        if legs is None:
            return None
        usd = self.usd_q8(src, legs.profit, asset.q[src], m_src, up=False)
        if usd is None:
            self.tally.skipped["no_usd_price"] += 1
            return None
        label = (asset.label, direction)
        self.tally.best_usd_q8[label] = max(usd, self.tally.best_usd_q8.get(label, 0))
        if usd <= st.min_profit_usd_q8:
            return None
        mark = (pair.key, direction)
        seen = (legs.amount_in, legs.expected_out, legs.profit)
        if self._last.get(mark) == seen:
            self.tally.skipped["unchanged"] += 1
            return None
        self._last[mark] = seen
        cost_q = (convert_at(m_src, legs.bridge_fee, asset.x[src].address, up=True) or 0) + rescale(
            legs.haircut, asset.q[dst].decimals, asset.q[src].decimals, up=True)
        cost = self.usd_q8(src, cost_q, asset.q[src], m_src, up=True) or 0
        self._ids += 1
        blocks = (self.stores[0].block, self.stores[1].block)
        signal = CrossChainArbitrageSignal(
            amount_in=legs.amount_in, expected_out=legs.expected_out, opportunity_id=(id_base << 20) + self._ids,
            source_chain_id=self.chains[src].chain_id, dest_chain_id=self.chains[dst].chain_id,
            valid_until_ns=now_ns + st.valid_ns, net_profit_usd_q8=min(usd, I64_MAX),
            bridge_cost_usd_q8=min(cost, I64_MAX), bridge_latency_s=st.bridge["bridge_latency_s"],
            strategy_id=st.strategy_id, confidence_bps=confidence_bps(legs),
            source_pool=_raw(specs[src].address), dest_pool=_raw(specs[dst].address),
            token_in=_raw(asset.q[src].address), token_out=_raw(asset.q[dst].address),
            source_venue=int(VENUES[specs[src].kind]), dest_venue=int(VENUES[specs[dst].kind]),
            bridge=st.bridge_venue)
        record = CrossChainLegs(
            x_bought=legs.x_bought, bridge_fee=legs.bridge_fee, x_arrived=legs.x_arrived, dest_amount_out=legs.q_out,
            latency_haircut=legs.haircut, gas_cost=legs.gas, net_profit=legs.profit,
            opportunity_id=signal.opportunity_id, source_block=blocks[src], dest_block=blocks[dst],
            bridge_fee_ppm=st.bridge["bridge_fee_ppm"], latency_haircut_ppm_per_min=st.bridge["latency_haircut_ppm_per_min"],
            source_asset=_raw(asset.x[src].address), dest_asset=_raw(asset.x[dst].address))
        self.tally.signals[label] += 1
        return Found(signal, record, legs, pair, direction, blocks)

    @staticmethod
    def _leg(model: Pool, asset: Asset, chain: int) -> Leg:
        q = asset.q[chain]
        return Leg(model, model.token0.lower() == q.address, asset.x[chain].decimals, q.decimals)

    def _gas(self, chain: int, spec: PoolSpec, quote: Token, model: Pool) -> int | None:
        gas_price = self.stores[chain].gas_price_wei
        if gas_price is None:
            return None
        wei = self.settings.gas_units[spec.kind] * gas_price
        return self.convert(chain, wei, self.settings.native[chain].address, quote.address, up=True, prefer=model)

    def convert(self, chain: int, amount: int, src: str, dst: str, *, up: bool,
                prefer: Pool | None = None) -> int | None:
        """``amount`` of ``src`` in raw ``dst`` on ``chain``: as is for one token, at ``prefer``
        when it joins them, else at the deepest pool of the chain joining them; None without one."""
        if src == dst or amount == 0:
            return amount
        if prefer is not None and {prefer.token0.lower(), prefer.token1.lower()} == {src, dst}:
            return convert_at(prefer, amount, src, up=up)
        store, best, deepest = self.stores[chain], None, -1.0
        for spec in store.specs.values():
            if spec.holds(src, dst) and (m := store.model(spec.address)) is not None and (d := depth(m, dst)) > deepest:
                best, deepest = m, d
        return None if best is None else convert_at(best, amount, src, up=up)

    def usd_q8(self, chain: int, amount: int, token: Token, prefer: Pool | None, *, up: bool) -> int | None:
        """``amount`` raw of ``token`` on ``chain`` in USD x 1e8: 1:1 for a USD token, else
        through a pool of the chain into one; rounded ``up`` (costs) or down (values)."""
        for usd in self.settings.usd_tokens[chain]:
            if usd.address == token.address:
                return _q8(amount, token.decimals, up)
        for usd in self.settings.usd_tokens[chain]:
            value = self.convert(chain, amount, token.address, usd.address, up=up, prefer=prefer)
            if value is not None:
                return _q8(value, usd.decimals, up)
        return None


def confidence_bps(legs: Legs) -> int:
    """Share of the destination output the latency haircut leaves, in bps (down)."""
    return 0 if legs.q_out <= 0 else legs.expected_out * 10_000 // legs.q_out


def _q8(amount: int, decimals: int, up: bool) -> int:
    num, den = amount * 10**8, 10**decimals
    return -(-num // den) if up else num // den


def _raw(address: str) -> bytes:
    return bytes.fromhex(address[2:])
