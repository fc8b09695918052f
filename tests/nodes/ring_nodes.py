"""Small nodes that exercise the runtime's rings and offload facility in contract tests.

Loaded by the harness as ``tests.nodes.ring_nodes:<Class>``.
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import Future
from typing import Any

import numpy as np
from numba import njit

from mesh.protocol import StrategyPerformance, Trade
from mesh.protocol.constants import HEADER_SIZE, MAGIC, RelayDomain, SourceType
from mesh.rings import RingBatch
from nodes.runtime import ConfigKey, Contract, Node
from nodes.runtime.rings import decoded

TRADE_TYPE = Trade.TLV_TYPE
#: Trade's price (i64) after the 2-byte TLV header and the 8-byte asset id.
PRICE_AT = HEADER_SIZE + 2 + 8


class TradeRelay(Node):
    """Reads market-data rings in Python and writes each Trade, volume + 1, to its own ring."""

    CONTRACT = Contract("trade-relay", "Relays trades from ring to ring (test node).",
                        SourceType.MARKET_DATA_RELAY, produces=(Trade,),
                        reads=(RelayDomain.MARKET_DATA,), writes=(RelayDomain.MARKET_DATA,))

    def on_ring_batch(self, batch: RingBatch) -> None:
        """Relay every Trade of the batch (malformed frames are counted by ``decoded``)."""
        for frame in decoded(batch, self.rt.stats, frozenset({TRADE_TYPE})):
            t = frame.tlvs[0]
            self.rt.write_ring(t.replace(volume=t.volume + 1))


@njit(cache=True)
def _read_i64(data, at):
    v = np.int64(0)
    for k in range(8):
        v |= np.int64(data[at + k]) << np.int64(8 * k)
    return v


@njit(cache=True)
def count_trades(data, offsets, count, ctx):
    """ctx[0] += trades, ctx[1] += their prices; frames without the magic are rejected."""
    rejected = 0
    for i in range(count):
        start, end = offsets[i], offsets[i + 1]
        if end - start < PRICE_AT + 8:
            rejected += 1
            continue
        magic = (np.int64(data[start]) | np.int64(data[start + 1]) << 8
                 | np.int64(data[start + 2]) << 16 | np.int64(data[start + 3]) << 24)
        if magic != MAGIC:
            rejected += 1
            continue
        if data[start + HEADER_SIZE] == TRADE_TYPE:
            ctx[0] += 1
            ctx[1] += _read_i64(data, start + PRICE_AT)
    return rejected


class TradeCounter(Node):
    """Counts trades in compiled code (``RING_KERNEL``) and publishes the count over ZeroMQ."""

    CONTRACT = Contract("trade-counter", "Counts ring trades in numba (test node).",
                        SourceType.METRICS_COLLECTOR, produces=(StrategyPerformance,),
                        reads=(RelayDomain.MARKET_DATA,))
    RING_KERNEL = count_trades

    def on_start(self) -> None:
        """Allocate the kernel's counters."""
        self.ring_context = np.zeros(2, np.int64)
        self._published = 0

    def on_tick(self, now_ns: int) -> int:
        """Publish the count whenever it changed."""
        trades = int(self.ring_context[0])
        if trades == self._published:
            return 0
        self._published = trades
        self.rt.publish(StrategyPerformance(opportunities=trades,
                                            realized_profit=int(self.ring_context[1])))
        return 1


class SlowRpc(Node):
    """Calls a JSON-RPC endpoint again and again, offloaded (or, for contrast, on its loop)."""

    CONTRACT = Contract("slow-rpc", "Polls a JSON-RPC node (test node).",
                        SourceType.EXECUTION_ENGINE, produces=(StrategyPerformance,),
                        obeys_stop=True, config={
                            "rpc_url": ConfigKey("", "JSON-RPC endpoint"),
                            "blocking": ConfigKey(False, "call on the loop thread (contrast)"),
                        })

    def on_start(self) -> None:
        """Start the first call."""
        self.answers = 0
        if not self.rt.settings["blocking"]:
            self.rt.offload.call(self._rpc, on_done=self._answered)

    def _rpc(self) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber",
                           "params": []}).encode()
        req = urllib.request.Request(self.rt.settings["rpc_url"], body,
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())["result"]

    def _answered(self, future: Future[Any]) -> None:
        int(future.result(), 16)
        self.answers += 1
        self.rt.publish(StrategyPerformance(submitted=self.answers,
                                            window_end_ns=time.time_ns()))
        self.rt.offload.call(self._rpc, on_done=self._answered)

    def on_tick(self, now_ns: int) -> int:
        """In blocking mode, call on the loop thread (what the offload exists to avoid)."""
        if self.rt.settings["blocking"]:
            self._rpc()
            return 1
        return 0
