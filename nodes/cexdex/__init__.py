"""The cexdex node: CEX-DEX arbitrage signals from the market-data rings.

It reads every market-data ring: from collector-cex the ``Quote`` and ``OrderBook`` frames of
the configured pairs (``Trade`` frames are skipped) and ``StateInvalidation`` (the venue's
books are forgotten until fresh data); from collector-evm the pool frames and each block's
``[BlockEnd, GasPrice]``, applied one complete block at a time by the reference consumer
(:mod:`nodes.cexdex.pools`). On each CEX book change of a mapped pair, and at each BlockEnd for
the pairs whose pools the block touched, it sizes both directions over every candidate pool
exactly (:mod:`nodes.cexdex.sizing`) and publishes a ``CexDexSignal`` on the signal domain when
the net profit reaches ``min_profit_usd``. It writes nothing to a chain; while a stop is
latched it keeps its state current and publishes nothing (counted as withheld).
docs/cexdex.md describes the figures and their roundings.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from alphapulse.errors import AlphaPulseError, ConfigError
from contracts.devnet import DevnetPaths, load_manifest
from mesh.protocol import Frame, OrderBook, Quote, StateInvalidation, decode_frame
from mesh.protocol.constants import EXTENDED_TLV_MARKER, HEADER_SIZE, RelayDomain, SourceType
from mesh.protocol.messages import (
    BlockEnd,
    CexDexSignal,
    PoolBurn,
    PoolInvalidation,
    PoolMint,
    PoolState,
    PoolSwap,
    PoolSync,
    PoolTickLiquidity,
)
from nodes.cexdex.books import CexBooks
from nodes.cexdex.config import gas_units, manifest_pools, parse_pairs, split_pairs, token
from nodes.cexdex.engine import Evaluator, Settings, Tally
from nodes.cexdex.metrics import CexDexCollector
from nodes.cexdex.pools import PoolStore
from nodes.runtime import ConfigKey, Contract, Node

if TYPE_CHECKING:
    from mesh.rings import RingBatch
    from nodes.runtime.runtime import NodeRuntime

__all__ = ["CexDexNode"]

_RETRY_S = 2.0
_CEX = frozenset(t.TLV_TYPE for t in (Quote, OrderBook, StateInvalidation))
_POOLS = frozenset(t.TLV_TYPE for t in (PoolState, PoolSync, PoolSwap, PoolMint, PoolBurn, PoolTickLiquidity,
                                        PoolInvalidation, BlockEnd))
#: Gas of one exact-input swap as its own transaction (receipt gasUsed), per pool kind:
#: contracts/gas_table.py measures hops inside FlashArbitrage only, so these are typical mainnet
#: figures of the canonical routers (V2 Router02 swapExactTokensForTokens, V3 SwapRouter
#: exactInputSingle without a tick crossed), rounded up.
GAS_V2, GAS_V3 = 110_000, 130_000
DEFAULT_PAIRS = ("binance:ETH/USDT=WETH/USDC, binance:BTC/USDT=WBTC/USDC, coinbase:ETH/USD=WETH/USDC, "
                 "coinbase:BTC/USD=WBTC/USDC")


def _first_type(raw: bytes) -> int:
    if len(raw) <= HEADER_SIZE + 2:
        return -1
    t = raw[HEADER_SIZE]
    return raw[HEADER_SIZE + 2] if t == EXTENDED_TLV_MARKER else t


class CexDexNode(Node):
    """Size CEX-DEX differences over the market-data rings; publish CexDexSignal."""

    CONTRACT = Contract(
        kind="cexdex",
        role="CEX-DEX arbitrage signals: CEX books against exact pool execution, both legs sized.",
        source=SourceType.ARBITRAGE_STRATEGY,
        produces=(CexDexSignal,),
        reads=(RelayDomain.MARKET_DATA,),
        obeys_stop=True,
        config={
            "manifest": ConfigKey("", "tokens and pools (JSON); empty = the devnet's"),
            "pairs": ConfigKey(DEFAULT_PAIRS, "CEX pairs and the chain tokens they stand for: "
                                              "venue:BASE/QUOTE=TOKEN/TOKEN, comma-separated"),
            "usd_tokens": ConfigKey("USDC,DAI", "quote tokens counted 1:1 as USD (those the manifest lists)"),
            "native_token": ConfigKey("WETH", "the wrapped native token gas is paid in"),
            "cex_taker_fee_ppm": ConfigKey(1000, "CEX taker fee, ppm of the notional (1000 = 0.1 %)"),
            "lot_q8": ConfigKey(10_000, "CEX lot size, base x 1e8 (10000 = 0.0001)"),
            "min_profit_usd": ConfigKey(1.0, "smallest net profit published, USD"),
            "gas_v2": ConfigKey(GAS_V2, "gas units of the DEX leg on a V2 pair"),
            "gas_v3": ConfigKey(GAS_V3, "gas units of the DEX leg on a V3 pool"),
            "valid_ms": ConfigKey(3000, "a signal is valid this long after it is published"),
            "word_radius": ConfigKey(8, "the collector's word_radius: tick-bitmap words known each side"),
            "strategy_id": ConfigKey(2, "strategy_id of the published signals"),
        },
    )

    def __init__(self, rt: NodeRuntime) -> None:
        super().__init__(rt)
        s = rt.settings  # checked here: a bad setting fails before any socket opens
        split_pairs(str(s["pairs"]))
        for key in ("cex_taker_fee_ppm", "lot_q8", "gas_v2", "gas_v3", "valid_ms", "word_radius"):
            if int(s[key]) < 0 or (key == "lot_q8" and int(s[key]) == 0):
                raise ConfigError(f"node {rt.name}: {key}={s[key]} is out of range")
        if not 0 <= int(s["cex_taker_fee_ppm"]) < 1_000_000:
            raise ConfigError(f"node {rt.name}: cex_taker_fee_ppm must be below 1000000")

    def on_start(self) -> None:
        """Start the books and pools; load the manifest (retried until it loads)."""
        self.pools = PoolStore(word_radius=int(self.rt.settings["word_radius"]))
        self.books = CexBooks()
        self.evaluator: Evaluator | None = None
        self.published = 0
        self.withheld = 0
        self._next_try = 0.0
        self._id_base = time.time_ns() // 1_000_000
        if self.rt.metrics is not None:
            self.rt.metrics.registry.register(CexDexCollector(self.rt.name, self._tally, lambda: self.withheld))
        self._try_load()

    def _tally(self) -> Tally | None:
        return None if self.evaluator is None else self.evaluator.tally

    def _try_load(self) -> None:
        s = self.rt.settings
        path = s["manifest"] or str(DevnetPaths.of().manifest)
        try:
            manifest = load_manifest(path)
            pairs = parse_pairs(str(s["pairs"]), manifest)
            specs = manifest_pools(manifest)
            listed = manifest.get("tokens", {})  # a USD token the manifest lacks is not used
            usd = tuple(token(manifest, t.strip()) for t in str(s["usd_tokens"]).split(",")
                        if t.strip() and (t.strip() in listed or t.strip().startswith("0x")))
            settings = Settings(token(manifest, str(s["native_token"])), usd, int(s["cex_taker_fee_ppm"]),
                                int(s["lot_q8"]), round(float(s["min_profit_usd"]) * 10**8), gas_units(s),
                                int(s["valid_ms"]) * 1_000_000, int(s["strategy_id"]))
        except AlphaPulseError as exc:
            self._next_try = time.monotonic() + _RETRY_S
            self.rt.stats.error(exc.kind)
            self.rt.log.warning("cexdex: %s (retrying)", exc)
            return
        self.pools.specs = specs
        self.pools.forget_models()
        self.evaluator = Evaluator(pairs, self.pools, self.books, settings)
        for p in pairs:
            self.rt.log.info("cexdex: %s = %s/%s over %d pools", p.label, p.base.symbol, p.quote.symbol,
                             len(self.evaluator.candidates[p.instrument.cache_key()]))

    def on_ring_batch(self, batch: RingBatch) -> None:
        """Apply the batch's books and complete blocks; evaluate the pairs they touched."""
        touched: set[int] = set()
        ring = str(batch.ring)
        for raw in batch.frames():
            t = _first_type(raw)
            if t not in _CEX and t not in _POOLS:
                continue
            try:
                frame = decode_frame(raw)
            except AlphaPulseError as exc:
                self.rt.stats.error(exc.kind)
                continue
            if t in _CEX:
                touched |= self._cex(frame)
            else:
                pools = self.pools.feed(ring, frame)
                if pools is not None and self.evaluator is not None:
                    touched |= self.evaluator.pairs_of_pools(pools)
        if touched and self.evaluator is not None:
            self._evaluate(touched)

    def _cex(self, frame: Frame) -> set[int]:
        changed: set[int] = set()
        for tlv in frame.tlvs:
            if isinstance(tlv, Quote | OrderBook | StateInvalidation):
                try:
                    changed.update(self.books.apply(tlv))
                except AlphaPulseError as exc:
                    self.rt.stats.error(exc.kind)
        return changed

    def _evaluate(self, keys: set[int]) -> None:
        assert self.evaluator is not None
        now = time.time_ns()
        for key in sorted(keys):
            for sig in self.evaluator.evaluate(key, now, self._id_base):
                if self.rt.halted():
                    self.withheld += 1
                    continue
                self.rt.publish(sig)
                self.published += 1
        for kind, n in self.evaluator.tally.skipped.items():
            self.rt.stats.errors[kind] = n

    def on_tick(self, now_ns: int) -> int:
        """Retry loading the manifest until it loads."""
        if self.evaluator is None and time.monotonic() >= self._next_try:
            self._try_load()
            return 1
        return 0

    def on_stop(self) -> None:
        """Log what the node did."""
        t = self._tally()
        self.rt.log.info("cexdex: %d signals published, %d withheld by a stop, %d evaluations; block %d",
                         self.published, self.withheld, t.evaluations if t else 0, self.pools.block)
