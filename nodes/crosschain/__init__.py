"""The crosschain node: one asset priced on two chains, net of a bridge; CrossChainArbitrageSignal.

It reads the market-data rings of two ring namespaces: chain A's (the node's own namespace)
and chain B's (``namespace_b``, else the first of the runtime's ``ring_namespaces``), each
collector's pool frames applied one complete block at a time per chain. At each ``BlockEnd`` of
either chain it evaluates the pairs of pools (one per chain, same asset) the block touched, both
directions, exactly (:mod:`nodes.crosschain.engine`, :mod:`contracts.swapmath.crosschain`), and
publishes a ``CrossChainArbitrageSignal`` on the signal domain, with a ``CrossChainLegs``
record (both legs' intermediate amounts) in the same frame, when the net profit exceeds
``min_profit_usd``. No bridging is executed. docs/crosschain.md has the model and every key.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from alphapulse.errors import AlphaPulseError, ConfigError
from contracts.devnet import DevnetPaths, load_manifest
from mesh.protocol import Frame, decode_frame
from mesh.protocol.constants import (
    EXTENDED_TLV_MARKER,
    HEADER_SIZE,
    PoolKind,
    RelayDomain,
    SourceType,
)
from mesh.protocol.messages import (
    BlockEnd,
    CrossChainArbitrageSignal,
    CrossChainLegs,
    PoolBurn,
    PoolInvalidation,
    PoolMint,
    PoolState,
    PoolSwap,
    PoolSync,
    PoolTickLiquidity,
)
from nodes.cexdex.config import Token, token
from nodes.cexdex.pools import PoolStore
from nodes.crosschain.config import bridge, chain_side, parse_assets, resolve
from nodes.crosschain.engine import Evaluator, Found, Settings, Tally
from nodes.crosschain.metrics import CrossChainCollector
from nodes.runtime import ConfigKey, Contract, Node

if TYPE_CHECKING:
    from mesh.rings import RingBatch
    from nodes.runtime.runtime import NodeRuntime

__all__ = ["CrossChainNode"]

_RETRY_S = 2.0
_POOLS = frozenset(t.TLV_TYPE for t in (PoolState, PoolSync, PoolSwap, PoolMint, PoolBurn, PoolTickLiquidity,
                                        PoolInvalidation, BlockEnd))
#: Gas of one swap as its own transaction, per pool kind (as the cexdex node's DEX leg).
GAS_V2, GAS_V3 = 110_000, 130_000
_NON_NEGATIVE = ("bridge_fee_ppm", "bridge_latency_s", "latency_haircut_ppm_per_min", "gas_v2", "gas_v3",
                 "valid_ms", "word_radius", "bridge_venue", "strategy_id")


def _first_type(raw: bytes) -> int:
    if len(raw) <= HEADER_SIZE + 2:
        return -1
    t = raw[HEADER_SIZE]
    return raw[HEADER_SIZE + 2] if t == EXTENDED_TLV_MARKER else t


class CrossChainNode(Node):
    """Compare one asset's pools across two chains net of a bridge; publish CrossChainArbitrageSignal."""

    CONTRACT = Contract(
        kind="crosschain",
        role="Cross-chain signals: the same asset's pools on two chains, exact sizes net of a bridge.",
        source=SourceType.ARBITRAGE_STRATEGY,
        produces=(CrossChainArbitrageSignal, CrossChainLegs),
        reads=(RelayDomain.MARKET_DATA,),
        obeys_stop=True,
        config={
            "manifest_a": ConfigKey("", "chain A's manifest (JSON); empty = the devnet's"),
            "manifest_b": ConfigKey("", "chain B's manifest (JSON); required"),
            "namespace_b": ConfigKey("", "chain B's ring namespace; empty = the first of ring_namespaces"),
            "assets": ConfigKey("WETH/USDC, WBTC/USDC", "X/Q[=XB/QB][:FIXED_RAW_X], comma-separated"),
            "bridge_fee_ppm": ConfigKey(500, "bridge fee, ppm of the bridged X (rounded up)"),
            "bridge_latency_s": ConfigKey(600, "expected transfer time, seconds"),
            "latency_haircut_ppm_per_min": ConfigKey(50, "destination output lost per minute in flight, ppm"),
            "bridge_venue": ConfigKey(0, "VenueId of the bridge in the signal, 0 if none"),
            "usd_tokens": ConfigKey("USDC,DAI", "quote tokens counted 1:1 as USD (those each manifest lists)"),
            "native_token": ConfigKey("WETH", "the wrapped native token gas is paid in, on both chains"),
            "gas_v2": ConfigKey(GAS_V2, "gas units of a leg on a V2 pair"),
            "gas_v3": ConfigKey(GAS_V3, "gas units of a leg on a V3 pool"),
            "min_profit_usd": ConfigKey(1.0, "a signal needs a net profit above this, USD"),
            "valid_ms": ConfigKey(30_000, "a signal is valid this long after it is published"),
            "stale_s": ConfigKey(30.0, "a chain without a BlockEnd this long is stale: no signals from it"),
            "max_pairs": ConfigKey(16, "most pool pairs evaluated per BlockEnd (the rest wait)"),
            "pairing": ConfigKey("all", "all: every pool of A with every pool of B; same_address: only a pool "
                                        "with its twin at the same address (one deployment on both chains)"),
            "word_radius": ConfigKey(8, "the collectors' word_radius: tick-bitmap words known each side"),
            "strategy_id": ConfigKey(3, "strategy_id of the published signals"),
        },
    )

    def __init__(self, rt: NodeRuntime) -> None:
        super().__init__(rt)
        s = rt.settings  # checked here: a bad setting fails before any socket opens
        for key in _NON_NEGATIVE:
            if int(s[key]) < 0:
                raise ConfigError(f"node {rt.name}: {key}={s[key]} is negative")
        if int(s["max_pairs"]) < 1 or float(s["stale_s"]) <= 0:
            raise ConfigError(f"node {rt.name}: max_pairs must be >= 1 and stale_s > 0")
        if str(s["pairing"]) not in ("all", "same_address"):
            raise ConfigError(f"node {rt.name}: pairing={s['pairing']!r} is not all or same_address")
        if not str(s["manifest_b"]):
            raise ConfigError(f"node {rt.name}: manifest_b (chain B's manifest) is required")
        if not (str(s["namespace_b"]) or tuple(s.get("ring_namespaces", ()))):
            raise ConfigError(f"node {rt.name}: chain B's ring namespace is unset (namespace_b or ring_namespaces)")
        for entry in parse_assets(str(s["assets"])):
            bridge(s, entry.fixed_x)

    def on_start(self) -> None:
        """Open both chains' pool stores; load the manifests (retried until they load)."""
        s = self.rt.settings
        radius = int(s["word_radius"])
        self.stores = (PoolStore(word_radius=radius), PoolStore(word_radius=radius))
        own = str(getattr(self.rt, "ring_namespace", "") or self.rt.cfg.ring_namespace)
        other = str(s["namespace_b"]) or next(iter(s["ring_namespaces"]))
        self.namespaces = {own: 0, other: 1}
        self.evaluator: Evaluator | None = None
        self.published = 0
        self.withheld = 0
        self._next_try = 0.0
        self._id_base = time.time_ns() // 1_000_000
        if self.rt.metrics is not None:
            self.rt.metrics.registry.register(CrossChainCollector(self.rt.name, self._tally, lambda: self.withheld))
        self._try_load()

    def _tally(self) -> Tally | None:
        return None if self.evaluator is None else self.evaluator.tally

    def _try_load(self) -> None:
        s = self.rt.settings
        try:
            manifests = (load_manifest(s["manifest_a"] or str(DevnetPaths.of().manifest)),
                         load_manifest(str(s["manifest_b"])))
            chains = tuple(chain_side(i, ns, manifests[i]) for ns, i in self.namespaces.items())
            assets = [resolve(e, *manifests) for e in parse_assets(str(s["assets"]))]
            settings = Settings(
                {k: int(s[k]) for k in ("bridge_fee_ppm", "bridge_latency_s", "latency_haircut_ppm_per_min")},
                {PoolKind.UNISWAP_V2: int(s["gas_v2"]), PoolKind.UNISWAP_V3: int(s["gas_v3"])},
                (token(manifests[0], str(s["native_token"])), token(manifests[1], str(s["native_token"]))),
                (self._usd(manifests[0]), self._usd(manifests[1])), round(float(s["min_profit_usd"]) * 10**8),
                int(s["valid_ms"]) * 1_000_000, int(float(s["stale_s"]) * 1e9), int(s["max_pairs"]),
                int(s["strategy_id"]), int(s["bridge_venue"]), str(s["pairing"]) == "same_address")
        except AlphaPulseError as exc:
            self._next_try = time.monotonic() + _RETRY_S
            self.rt.stats.error(exc.kind)
            self.rt.log.warning("crosschain: %s (retrying)", exc)
            return
        if chains[0].chain_id == chains[1].chain_id:
            self.rt.log.warning("crosschain: both manifests name chain %d", chains[0].chain_id)
        for store, chain in zip(self.stores, chains, strict=True):
            store.specs = chain.pools
            store.forget_models()
        self.evaluator = Evaluator(chains, self.stores, assets, settings)
        self.rt.log.info("crosschain: chains %d (%s) and %d (%s), %d pool pairs over %s",
                         chains[0].chain_id, chains[0].namespace, chains[1].chain_id, chains[1].namespace,
                         len(self.evaluator.pairs), ", ".join(a.label for a in assets))

    def _usd(self, manifest: Mapping[str, Any]) -> tuple[Token, ...]:
        listed = manifest.get("tokens", {})
        names = [t.strip() for t in str(self.rt.settings["usd_tokens"]).split(",")]
        return tuple(token(manifest, n) for n in names if n and (n in listed or n.startswith("0x")))

    def on_ring_batch(self, batch: RingBatch) -> None:
        """Apply the batch's complete blocks to its chain; evaluate the pairs they touched."""
        chain = self.namespaces.get(batch.ring.namespace)
        if chain is None:
            self.rt.stats.error("unknown_namespace")
            return
        ring = str(batch.ring)
        for raw in batch.frames():
            if _first_type(raw) not in _POOLS:
                continue
            try:
                frame = decode_frame(raw)
            except AlphaPulseError as exc:
                self.rt.stats.error(exc.kind)
                continue
            self._feed(chain, ring, frame)
        if self.evaluator is not None and self.evaluator.queue:
            self._publish(self.evaluator.run(time.time_ns(), self._id_base))

    def _feed(self, chain: int, ring: str, frame: Frame) -> None:
        ev = self.evaluator
        for tlv in frame.tlvs:
            if ev is not None and isinstance(tlv, BlockEnd) and tlv.chain_id != ev.chains[chain].chain_id:
                self.rt.stats.error("chain_mismatch")  # a ring mapped to the wrong chain: not applied
                return
        store = self.stores[chain]
        touched = store.feed(ring, frame)
        if touched is None or ev is None:
            return
        unknown = {a for a in touched if a not in store.specs}
        if unknown:
            self.rt.stats.errors["unknown_pool"] += len(unknown)
        ev.block_applied(chain, touched - unknown, time.monotonic_ns())

    def _publish(self, found: list[Found]) -> None:
        for f in found:
            if self.rt.halted():
                self.withheld += 1
                continue
            self.rt.publish([f.signal, f.record])
            self.published += 1

    def on_tick(self, now_ns: int) -> int:
        """Retry loading the manifests until they load."""
        if self.evaluator is None and time.monotonic() >= self._next_try:
            self._try_load()
            return 1
        return 0

    def on_stop(self) -> None:
        """Log what the node did."""
        t = self._tally()
        self.rt.log.info("crosschain: %d signals published, %d withheld by a stop, %d evaluations; blocks %d / %d",
                         self.published, self.withheld, t.evaluations if t else 0,
                         self.stores[0].block, self.stores[1].block)
