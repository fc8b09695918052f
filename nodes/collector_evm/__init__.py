"""The EVM collector: Uniswap V2/V3 pools of one chain into the market-data ring, exactly.

It follows the chain at ``rpc_url`` (websocket ``newHeads`` + ``logs`` on ``ws_url``, or HTTP
polling when ``ws_url = "off"``), reads every pool at one block at start (batched
``eth_call``: V2 reserves; V3 price, tick, liquidity and the initialized ticks within
``word_radius`` bitmap words), then writes every pool log as a frame, the exact values of the V3
ticks each block's Mint/Burn touched, and a ``[BlockEnd, GasPrice, TraceContext]`` frame when a
block is complete (the TraceContext starts the block's trace, docs/tracing.md). Reorgs and lost
connections invalidate the pools concerned and read them again
(:mod:`nodes.collector_evm.follower`, :mod:`nodes.collector_evm.transport`). A consumer that
applies the frames as docs/market-data.md says holds each pool's exact on-chain state at every
BlockEnd.

Pointing it at any EVM endpoint: ``[nodes.collector-evm]`` in the mesh configuration::

    rpc_url = "https://node.example:8545"     # JSON-RPC over HTTP(S)
    ws_url = "wss://node.example:8546"        # "" = same host and port as rpc_url; "off" = poll
    manifest = "/etc/alphapulse/pools.json"   # tokens, pools and factories to follow

The manifest has the devnet manifest's shape (``alphapulse devnet up`` writes one): ``tokens``
(address, decimals), ``uniswap_v2`` / ``uniswap_v2_fork`` (``factory``, ``pairs``) and
``uniswap_v3`` (``factory``, ``pools``); its ``rpc_url`` is used when ``rpc_url`` is empty.
Pools the factories create later are found from their creation logs.

Without its manifest (the devnet not up yet, a wrong path) the node runs all the same, counts
a ``config`` error, says why at most once per ``log_every_s``, and tries again every 2 s.

Errors of every boundary (a log from an unknown address, a malformed log, a value out of
range, a JSON-RPC error, a lost websocket) are counted by kind in ``alphapulse_errors_total``
and logged at most once per kind every ``log_every_s`` seconds.
"""

from __future__ import annotations

import logging
import time

from alphapulse.errors import ChainError, ConfigError
from contracts.client import Chain
from contracts.devnet import DevnetPaths, load_manifest
from contracts.events import TOPICS, registry_from_manifest
from contracts.factories import PAIR_CREATED, POOL_CREATED, factories_from_manifest
from contracts.logs import LogFilter
from contracts.subscribe import ws_url
from mesh.protocol import Message
from mesh.protocol.constants import RelayDomain, SourceType
from mesh.protocol.messages import (
    BlockEnd,
    ChainEvent,
    GasPrice,
    PoolBurn,
    PoolInvalidation,
    PoolMint,
    PoolState,
    PoolSwap,
    PoolSync,
    PoolTickLiquidity,
    StateInvalidationReason,
    TraceContext,
)
from nodes.collector_evm.follower import ChainFollower
from nodes.collector_evm.metrics import EvmMetrics
from nodes.collector_evm.transport import FollowerThread
from nodes.runtime import ConfigKey, Contract, Node
from nodes.runtime.throttle import ThrottledLog

__all__ = ["EvmCollectorNode"]

#: Seconds between attempts to load a manifest that is missing or unreadable.
_RETRY_S = 2.0


class EvmCollectorNode(Node):
    """Follow one EVM chain's Uniswap pools into the market-data ring."""

    CONTRACT = Contract(
        kind="collector-evm",
        role="Uniswap V2/V3 logs of one EVM chain into the market-data ring, exactly.",
        source=SourceType.POLYGON_COLLECTOR,
        produces=(PoolState, PoolSync, PoolSwap, PoolMint, PoolBurn, PoolTickLiquidity, ChainEvent,
                  BlockEnd, GasPrice, PoolInvalidation, StateInvalidationReason, TraceContext),
        writes=(RelayDomain.MARKET_DATA,),
        config={
            "rpc_url": ConfigKey("", "JSON-RPC endpoint (http/https); empty = the manifest's"),
            "ws_url": ConfigKey("", "websocket endpoint; empty = rpc_url's host and port; "
                                    "\"off\" = poll over HTTP"),
            "manifest": ConfigKey("", "tokens, pools and factories (JSON); empty = the devnet's"),
            "word_radius": ConfigKey(8, "tick-bitmap words read each side of a V3 price"),
            "reorg_depth": ConfigKey(64, "blocks remembered to undo a reorg"),
            "poll_interval_ms": ConfigKey(500, "HTTP polling period (ws_url = \"off\")"),
            "backoff_min_ms": ConfigKey(200, "first wait before reconnecting"),
            "backoff_max_ms": ConfigKey(5000, "longest wait before reconnecting"),
            "head_timeout_ms": ConfigKey(30000, "websocket silence that counts as a lost connection"),
            "log_every_s": ConfigKey(10.0, "at most one log line per error kind this often"),
        },
    )

    def on_start(self) -> None:
        """Load the pools and start following; without a manifest yet, try again every tick."""
        logging.getLogger("web3").setLevel(logging.WARNING)  # it logs every subscription at INFO
        self._log = ThrottledLog(self.rt.log, "collector-evm", float(self.rt.settings["log_every_s"]))
        self.thread: FollowerThread | None = None
        self._next_try = 0.0
        self.metrics = EvmMetrics(self.rt.name, lambda: self.thread)
        if self.rt.metrics is not None:
            self.rt.metrics.registry.register(self.metrics)
        self._try_start()

    def on_tick(self, now_ns: int) -> int:
        """Retry loading the manifest (the devnet may come up after this node)."""
        if self.thread is None and time.monotonic() >= self._next_try:
            self._try_start()
            return 1
        return 0

    def _try_start(self) -> None:
        try:
            self.thread = self._follow()
        except ConfigError as exc:
            self._next_try = time.monotonic() + _RETRY_S
            self._note_error(exc.kind, str(exc))

    def _follow(self) -> FollowerThread:
        s = self.rt.settings
        path = s["manifest"] or str(DevnetPaths.of().manifest)
        try:
            manifest = load_manifest(path)
            registry = registry_from_manifest(manifest)
            factories = factories_from_manifest(manifest)
            rpc = s["rpc_url"] or str(manifest.get("rpc_url", ""))
            ws = "" if s["ws_url"] == "off" else (s["ws_url"] or ws_url(rpc))
        except (ChainError, OSError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"cannot load pools from {path}: {exc}") from exc
        if not rpc:
            raise ConfigError("no rpc_url configured and none in the manifest")
        follower = ChainFollower(Chain(rpc), registry, factories, self._sink, self._count,
                                 word_radius=int(s["word_radius"]), reorg_depth=int(s["reorg_depth"]))
        topics = [*sorted(set(TOPICS.values())), PAIR_CREATED, POOL_CREATED]
        thread = FollowerThread(
            follower, ws_url=ws, logs=LogFilter.of([*registry, *factories], [topics]), count=self._count,
            poll_interval_s=s["poll_interval_ms"] / 1000, backoff_min_s=s["backoff_min_ms"] / 1000,
            backoff_max_s=s["backoff_max_ms"] / 1000, head_timeout_s=s["head_timeout_ms"] / 1000)
        thread.start()
        self.rt.log.info("collector-evm: following %d pools and %d factories at %s (%s)", len(registry),
                         len(factories), rpc, ws or "HTTP polling")
        return thread

    def on_stop(self) -> None:
        """Stop the follower thread."""
        if self.thread is not None:
            self.thread.stop()

    # -- from the follower thread ----------------------------------------------------------------

    def _sink(self, frames: list[list[Message]]) -> None:
        self.rt.offload.post(self._write, frames)

    def _write(self, frames: list[list[Message]]) -> None:
        for tlvs in frames:
            self.rt.write_ring(tlvs)
            self.metrics.written(tlvs)

    def _count(self, kind: str, detail: str) -> None:
        self.rt.offload.post(self._note_error, kind, detail)

    def _note_error(self, kind: str, detail: str) -> None:
        """Count an error; log it unless this kind was logged less than ``log_every_s`` ago."""
        self.rt.stats.error(kind)
        self._log.note(kind, detail)
