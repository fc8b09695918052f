"""collector-evm's Prometheus metrics: the chain's head and fees, and its websocket.

All labelled ``node``: the gauges ``alphapulse_evm_head_block`` (the last block closed),
``alphapulse_evm_base_fee_gwei`` (the next block's base fee, from its ``BlockEnd``; the seeds
alert above 100 gwei sustained) and ``alphapulse_evm_priority_fee_gwei``, the counter
``alphapulse_evm_blocks_total`` (blocks closed), and per ``venue`` (``evm``):
``alphapulse_evm_ws_connected`` (1 while the websocket subscription is up) and
``alphapulse_evm_disconnections_total`` (connections lost: each one invalidated every pool).

Thread-safety: the loop thread writes the ints; the follower thread its own two; the scrape
thread only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from mesh.protocol.messages import BlockEnd

VENUE = "evm"


class EvmMetrics:
    """A prometheus-client collector over the blocks written and the follower thread.

    Parameters
    ----------
    node : str
        The ``node`` label.
    follower : callable
        Returns the follower thread (``streaming``, ``outages``) or None before it starts.
    """

    def __init__(self, node: str, follower: Callable[[], Any]) -> None:
        self.node = node
        self.follower = follower
        self.head_block = 0
        self.base_fee_wei = 0
        self.priority_fee_wei = 0
        self.blocks = 0

    def written(self, tlvs: Sequence[Any]) -> None:
        """Note a frame written to the ring (only a block's closing frame changes anything)."""
        if tlvs and isinstance(tlvs[0], BlockEnd):
            end = tlvs[0]
            self.blocks += 1
            self.head_block = end.block_number
            self.base_fee_wei = end.next_base_fee_wei
            self.priority_fee_wei = end.priority_fee_wei

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (scrape thread)."""
        node = self.node
        for name, value, doc in (
                ("head_block", self.head_block, "Last block closed"),
                ("base_fee_gwei", self.base_fee_wei / 1e9, "Next block's base fee, gwei"),
                ("priority_fee_gwei", self.priority_fee_wei / 1e9, "Suggested priority fee, gwei")):
            g = GaugeMetricFamily(f"alphapulse_evm_{name}", doc, labels=["node"])
            g.add_metric([node], value)
            yield g
        blocks = CounterMetricFamily("alphapulse_evm_blocks", "Blocks closed", labels=["node"])
        blocks.add_metric([node], self.blocks)
        yield blocks
        thread = self.follower()
        up = GaugeMetricFamily("alphapulse_evm_ws_connected", "1 while the websocket is subscribed",
                               labels=["node", "venue"])
        up.add_metric([node, VENUE], 1 if thread is not None and thread.streaming else 0)
        lost = CounterMetricFamily("alphapulse_evm_disconnections",
                                   "Chain connections lost (every pool invalidated)",
                                   labels=["node", "venue"])
        lost.add_metric([node, VENUE], thread.outages if thread is not None else 0)
        yield from (up, lost)
