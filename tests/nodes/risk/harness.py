"""The risk node's harness with patient defaults: a machine busy with other test workers can
take many seconds to start a node or deliver a frame; a wait returns as soon as its condition
holds, so a passing test pays nothing for the margin."""

from __future__ import annotations

from typing import Any

from mesh.protocol import Message
from nodes.runtime.testing import NodeHarness

START_S = 60.0
WAIT_S = 30.0


class RiskHarness(NodeHarness):
    """``NodeHarness("risk", ...)`` with the longer start, feed and wait timeouts above."""

    def __init__(self, settings: dict[str, Any] | None = None, **kw: Any) -> None:
        kw.setdefault("start_timeout", START_S)
        super().__init__("risk", settings=settings, **kw)

    def feed(self, *tlvs: Message, key: int | None = None, timeout: float = WAIT_S) -> int:
        """As :meth:`NodeHarness.feed`, waiting longer for the node's subscription."""
        return super().feed(*tlvs, key=key, timeout=timeout)

    def wait_for(self, cls: type[Message], count: int = 1, timeout: float = WAIT_S,
                 where: Any = None) -> list[Message]:
        """As :meth:`NodeHarness.wait_for`, waiting longer."""
        return super().wait_for(cls, count, timeout, where)

    def feed_ring(self, *tlvs: Message, writer: str = "feeder", timeout: float = WAIT_S) -> int:
        """As :meth:`NodeHarness.feed_ring`, waiting longer for the node's reader."""
        return super().feed_ring(*tlvs, writer=writer, timeout=timeout)

    def control(self, stop: Any, timeout: float = WAIT_S) -> bytes:
        """As :meth:`NodeHarness.control`, waiting longer for the answer."""
        return super().control(stop, timeout)
