"""A synthetic V2 market for ``python -m bench strategy``: hub tokens, a long tail, its frames.

A helper of ``bench/strategy.py``, not a benchmark of its own. Three hub tokens (WETH, USDC,
DAI: the profit tokens) are in most pools; every other token has degree 1 to 3 (mostly 1),
paired with a hub (weighted towards WETH) or now and then with another tail token. Each hub
pair has two pools (10 to 100 M USD deep; the others 30 k to 10 M). Every token has a USD
price; a pool's reserves hold a random depth at its tokens' price ratio times a small noise, so no cycle beats its fees: the screen passes nothing
unless a frame dislocates a pool (:meth:`Market.sync`).
"""

from __future__ import annotations

import random
from array import array
from dataclasses import dataclass, field

import numpy as np

from mesh.protocol import encode_frame
from mesh.protocol.constants import DEXProtocol, FlashSource, SourceType, VenueId
from mesh.protocol.messages import BlockEnd, PoolState, PoolSync
from nodes.strategy.book import PoolBook
from nodes.strategy.engine import Engine
from nodes.strategy.evaluate import Evaluator
from nodes.strategy.graph import MAX_HOPS, CycleGraph
from nodes.strategy.screen import Screen
from nodes.strategy.values import Deployment

VENUE = int(VenueId.UNISWAP_V2)
#: (symbol, USD price, decimals) of the hubs; the first is the wrapped native token.
HUBS = (("WETH", 3000.0, 18), ("USDC", 1.0, 6), ("DAI", 1.0, 18))
HUB_WEIGHTS = (0.6, 0.25, 0.15)
#: Noise of a pool's price around its tokens' ratio: far below the 0.3 % fee of one hop.
NOISE = 2e-4
SOURCE = int(SourceType.POLYGON_COLLECTOR)
GAS_BASE_WEI, GAS_TIP_WEI = 20 * 10**9, 10**9


def _address(tag: int, index: int) -> bytes:
    return bytes([tag]) + index.to_bytes(19, "big")


def hex_of(raw: bytes) -> str:
    """An address as the book spells it: lower-case ``0x`` hex."""
    return "0x" + raw.hex()


@dataclass(slots=True)
class Pair:
    """One V2 pair: its address, tokens (index into :attr:`Market.tokens`) and reserves."""

    address: bytes
    token0: int
    token1: int
    reserve0: int
    reserve1: int


@dataclass(slots=True)
class Market:
    """Tokens (address, USD price, decimals) and V2 pairs; frames that load and move them."""

    tokens: list[tuple[bytes, float, int]] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    block: int = 1

    @property
    def profit_tokens(self) -> list[str]:
        """The hubs, lower-case hex."""
        return [hex_of(self.tokens[i][0]) for i in range(len(HUBS))]

    def reserves(self, pair: Pair, rng: random.Random, skew: float = 0.0) -> tuple[int, int]:
        """Reserves of ``pair`` at a random depth and its fair price times noise (and ``skew``)."""
        _, p0, d0 = self.tokens[pair.token0]
        _, p1, d1 = self.tokens[pair.token1]
        hubs = pair.token0 < len(HUBS) and pair.token1 < len(HUBS)
        depth_usd = 10 ** rng.uniform(7.0, 8.0) if hubs else 10 ** rng.uniform(4.5, 7.0)
        move = 1.0 + rng.uniform(-NOISE, NOISE) + skew
        r0 = int(depth_usd / p0 * 10**d0)
        r1 = int(depth_usd / p1 * 10**d1 * move)
        return max(r0, 10**3), max(r1, 10**3)

    def state_frames(self) -> list[bytes]:
        """One PoolState frame per pair, then a BlockEnd: the bootstrap the collector writes."""
        frames = []
        for i, p in enumerate(self.pairs):
            frames.append(encode_frame([PoolState(
                reserve0=p.reserve0, reserve1=p.reserve1, block_number=self.block, tick=0,
                fee_rate=30, venue=VENUE, pool_type=int(DEXProtocol.UNISWAP_V2),
                token0_decimals=self.tokens[p.token0][2], token1_decimals=self.tokens[p.token1][2],
                pool_address=p.address, token0_addr=self.tokens[p.token0][0],
                token1_addr=self.tokens[p.token1][0])], source=SOURCE, sequence=i))
        frames.append(self.block_end())
        return frames

    def sync(self, index: int, rng: random.Random, skew: float = 0.0, block: int | None = None) -> bytes:
        """A PoolSync frame giving pair ``index`` new reserves (fair price times noise, and
        ``skew``: 0.02 dislocates it by 2 %); the market keeps them."""
        p = self.pairs[index]
        p.reserve0, p.reserve1 = self.reserves(p, rng, skew)
        return encode_frame([PoolSync(
            reserve0=p.reserve0, reserve1=p.reserve1, block_number=self.block if block is None else block,
            venue=VENUE, token0_decimals=self.tokens[p.token0][2],
            token1_decimals=self.tokens[p.token1][2], pool_address=p.address,
            token0_addr=self.tokens[p.token0][0], token1_addr=self.tokens[p.token1][0])],
            source=SOURCE)

    def dislocation(self, index: int, skew: float, block: int) -> bytes:
        """One frame [PoolSync, BlockEnd]: pair ``index`` keeps its reserve0 and its reserve1
        goes to its fair price times ``1 + skew`` (no noise), then block ``block`` ends."""
        p = self.pairs[index]
        _, p0, d0 = self.tokens[p.token0]
        _, p1, d1 = self.tokens[p.token1]
        p.reserve1 = int(p.reserve0 * p0 / p1 * 10 ** (d1 - d0) * (1.0 + skew))
        return encode_frame([PoolSync(
            reserve0=p.reserve0, reserve1=p.reserve1, block_number=block, venue=VENUE,
            token0_decimals=d0, token1_decimals=d1, pool_address=p.address,
            token0_addr=self.tokens[p.token0][0], token1_addr=self.tokens[p.token1][0]),
            self._block_end(block)], source=SOURCE)

    def _block_end(self, block: int) -> BlockEnd:
        return BlockEnd(next_base_fee_wei=GAS_BASE_WEI, priority_fee_wei=GAS_TIP_WEI,
                        block_number=block, chain_id=1, block_hash=bytes(32),
                        parent_hash=bytes(32))

    def block_end(self, block: int | None = None) -> bytes:
        """A BlockEnd frame (20 gwei base fee, 1 gwei tip, chain 1)."""
        return encode_frame([self._block_end(self.block if block is None else block)], source=SOURCE)


def market(pools: int, seed: int = 7) -> Market:
    """``pools`` V2 pairs over hubs and a long tail of tokens (see the module docstring)."""
    rng = random.Random(seed)
    m = Market()
    for i, (_, price, dec) in enumerate(HUBS):
        m.tokens.append((_address(0xE0, i), price, dec))

    def add(a: int, b: int) -> None:
        if m.tokens[a][0] > m.tokens[b][0]:
            a, b = b, a
        pair = Pair(_address(0xA0, len(m.pairs)), a, b, 0, 0)
        pair.reserve0, pair.reserve1 = m.reserves(pair, rng)
        m.pairs.append(pair)

    for a in range(len(HUBS)):
        for b in range(a + 1, len(HUBS)):
            add(a, b)
            add(a, b)
    tail: list[int] = []
    while len(m.pairs) < pools:
        t = len(m.tokens)
        m.tokens.append((_address(0xC0, t), 10 ** rng.uniform(-3, 3), 18))
        degree = rng.choices((1, 2, 3), (0.6, 0.28, 0.12))[0]
        partners: set[int] = set()
        while len(partners) < degree:
            if tail and rng.random() < 0.12:
                partners.add(rng.choice(tail))
            else:
                partners.add(rng.choices(range(len(HUBS)), HUB_WEIGHTS)[0])
        for other in sorted(partners):
            if len(m.pairs) < pools:
                add(t, other)
        tail.append(t)
    return m


def deployment(m: Market) -> Deployment:
    """A hand-built deployment with made-up addresses: chain 1, the pairs' venue at factory
    index 0, WETH native, USDC the USD token, Aave (5 bps) able to lend each hub."""
    weth, usdc = m.profit_tokens[0], m.profit_tokens[1]
    return Deployment(chain_id=1, arbitrage="0x" + "fa" * 20, recipient="0x" + "fb" * 20,
                      native=weth, usd_token=usdc, usd_decimals=6, aave_pool="0x" + "fc" * 20,
                      aave_premium_bps=5, aave_caps={t: 10**30 for t in m.profit_tokens},
                      v2_factories={VENUE: 0})


def batch(frames: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Frames back to back as a ring batch: ``(data, offsets)``."""
    offsets = np.zeros(len(frames) + 1, np.int64)
    np.cumsum([len(f) for f in frames], out=offsets[1:])
    return np.frombuffer(b"".join(frames), np.uint8).copy(), offsets


def _cycles(graph: CycleGraph, max_hops: int) -> tuple[array, array, array, array]:
    """Every cycle of the graph's pools from each profit token, depth first: flat pool slots
    and hop directions (4 per cycle), hop counts and start token ids."""
    pools, zero, hops, start = array("i"), array("b"), array("b"), array("i")
    adj, ends = graph.adj, graph.ends
    pad = [0] * MAX_HOPS

    def emit(route: list[tuple[int, str]], s: str) -> None:
        for slot, token_in in route:
            pools.append(slot)
            zero.append(1 if ends[slot][0] == token_in else 0)
        pools.extend(pad[:MAX_HOPS - len(route)])
        zero.extend(pad[:MAX_HOPS - len(route)])
        hops.append(len(route))
        start.append(graph.token_ids[s])

    def walk(s: str, x: str, route: list[tuple[int, str]], seen: set[str]) -> None:
        depth = len(route) + 1
        for t, slots in adj.get(x, {}).items():
            if t == s:
                if depth >= 2:
                    for p in slots:
                        if depth > 2 or p != route[0][0]:
                            emit([*route, (p, x)], s)
                continue
            if t in seen or depth >= max_hops:
                continue
            seen.add(t)
            for p in slots:
                walk(s, t, [*route, (p, x)], seen)
            seen.discard(t)

    for s in graph.profit:
        walk(s, s, [], {s})
    return pools, zero, hops, start


def build_graph(book: PoolBook, profit: list[str], max_hops: int,
                max_cycles_per_pool: int = 4096) -> CycleGraph:
    """The :class:`CycleGraph` of the book's pools, built at once instead of pool by pool.

    The cycle set is the one :meth:`CycleGraph.add_pool` builds joining the slots in order:
    every cycle is charged to its highest slot (the pool whose join found it), and of a slot's
    cycles the shortest ``max_cycles_per_pool`` are kept. (``add_pool`` walks every hub's
    neighbours per join, which takes minutes at 10 k pools; :func:`check_graph` compares
    both.) The CSR index is set directly; per-cycle lists are not kept.
    """
    graph = CycleGraph(profit, max_hops, max_cycles_per_pool)
    for slot in book.take_fresh():
        a, b = book.tokens(int(slot))
        graph.ends[int(slot)] = (a, b)
        graph.token_id(a)
        graph.token_id(b)
        graph.adj.setdefault(a, {}).setdefault(b, []).append(int(slot))
        graph.adj.setdefault(b, {}).setdefault(a, []).append(int(slot))
    flat, zflat, hop_arr, start_arr = _cycles(graph, max_hops)
    pool = np.frombuffer(flat, np.int32).reshape(-1, MAX_HOPS)
    zero = np.frombuffer(zflat, np.int8).reshape(-1, MAX_HOPS).astype(np.uint8)
    hops = np.frombuffer(hop_arr, np.int8).astype(np.uint8)
    start = np.frombuffer(start_arr, np.int32)
    owner = np.where(np.arange(MAX_HOPS) < hops[:, None], pool, -1).max(axis=1)
    order = np.lexsort((hops, owner))
    first = np.searchsorted(owner[order], owner[order], side="left")
    keep = np.sort(order[np.arange(len(order)) - first < max_cycles_per_pool])
    graph.dropped = len(order) - len(keep)
    graph.pool, graph.zero, graph.hops = pool[keep].copy(), zero[keep].copy(), hops[keep].copy()
    graph.start, graph.count = start[keep].copy(), len(keep)
    members = np.arange(MAX_HOPS) < graph.hops[:, None]
    slots = graph.pool[members]
    cycle_of = np.nonzero(members)[0].astype(np.int32)
    by_slot = np.argsort(slots, kind="stable")
    graph.ptr = np.zeros(book.pools + 1, np.int64)
    np.cumsum(np.bincount(slots, minlength=book.pools), out=graph.ptr[1:])
    graph.idx = cycle_of[by_slot]
    graph._index_stale = False  # the index is the one just built
    return graph


def _cycle_keys(graph: CycleGraph) -> set[tuple[tuple[int, bool], ...]]:
    return {tuple(graph.route(c)) for c in range(graph.count)}


def check_graph(m: Market, max_hops: int) -> int:
    """Build the market's graph both ways (:func:`build_graph`, ``add_pool`` per join) and
    assert the same cycles; returns the count. Use on small markets only."""
    slow, fast = engine(m, max_hops, fast=False), engine(m, max_hops, fast=True)
    assert _cycle_keys(slow.graph) == _cycle_keys(fast.graph), "build_graph differs from add_pool"
    for s in range(fast.book.pools):
        a, b = slow.graph.ptr[s], slow.graph.ptr[s + 1]
        assert b - a == fast.graph.ptr[s + 1] - fast.graph.ptr[s], f"slot {s}'s cycle count"
    return fast.graph.count


def engine(m: Market, max_hops: int, *, max_candidates: int = 4096,
           sources: frozenset[FlashSource] | None = None, fast: bool = True) -> Engine:
    """An engine over the market, its pools loaded and joined (the cycle graph built, by
    :func:`build_graph` when ``fast``, else by the engine as the node does)."""
    book = PoolBook(capacity=max(64, len(m.pairs)), ticks_per_pool=4)
    data, offsets = batch(m.state_frames())
    assert book.apply(data, offsets, 0, len(offsets) - 1) == len(offsets) - 1
    graph = (build_graph(book, m.profit_tokens, max_hops) if fast
             else CycleGraph(m.profit_tokens, max_hops))
    kwargs = {} if sources is None else {"sources": sources}
    ev = Evaluator(book, graph, deployment(m), **kwargs)
    eng = Engine(book, graph, ev, Screen(max_candidates=max_candidates))
    eng.block_ended()
    assert not eng.evaluate(), "the synthetic market is arbitrage-free at start"
    return eng
