"""The monitor node: a heartbeat-only watcher that degrades when a watched node goes quiet.

It consumes every node's heartbeat and publishes nothing but its own; its heartbeat reports
``DEGRADED`` while any node it has heard from is silent for longer than ``stale_after_ms``,
so the Prometheus ``alphapulse_node_state`` gauge of one process tells an alert rule whether
the mesh is whole.
"""

from __future__ import annotations

import time

from mesh.protocol import Heartbeat
from mesh.protocol.constants import NodeState, SourceType
from nodes.monitor.metrics import MonitorMetrics
from nodes.runtime import ConfigKey, Contract, Node


class MonitorNode(Node):
    """Track the last heartbeat of every node; DEGRADED while one is stale."""

    CONTRACT = Contract(
        kind="monitor",
        role="Watches heartbeats; reports DEGRADED while any node is silent too long.",
        source=SourceType.METRICS_COLLECTOR,
        consumes=(Heartbeat,),
        config={"stale_after_ms": ConfigKey(3000, "silence that makes a node stale")},
    )

    def on_start(self) -> None:
        """Read settings."""
        self.stale_ns = int(self.rt.settings["stale_after_ms"]) * 1_000_000
        self.seen: dict[str, int] = {}
        self.metrics = MonitorMetrics(self.rt.name)
        if self.rt.metrics is not None:
            self.rt.metrics.registry.register(self.metrics)

    def on_frame(self, delivery) -> None:
        """Remember when each node last beat (monotonic receipt time)."""
        hb = delivery.frame.first(Heartbeat)
        if hb is not None:
            self.seen[hb.node] = now = time.monotonic_ns()
            self.metrics.beat(hb, now)

    def on_tick(self, now_ns: int) -> int:
        """Switch between RUNNING and DEGRADED."""
        stale = any(now_ns - t > self.stale_ns for t in self.seen.values())
        want = NodeState.DEGRADED if stale else NodeState.RUNNING
        if self.rt.state in (NodeState.RUNNING, NodeState.DEGRADED) and self.rt.state != want:
            self.rt.state = want
            self.rt.heartbeat()
        return 0
