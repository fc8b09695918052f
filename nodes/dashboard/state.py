"""What the dashboard knows, with bounded history: the snapshot a new client gets and the
deltas every event turns into. Lives on the web loop (one thread); fed by the reader's events.
"""

from __future__ import annotations

import collections
import time
from typing import Any

from mesh.protocol import EmergencyStop, Heartbeat
from mesh.protocol.constants import NodeState
from nodes.dashboard import messages as m

VERSION = 1
#: Last items of each stream kept for the snapshot (the interface allows at most 200).
STREAM_KEPT = 200
#: P&L points kept (one per execution; the chart's whole series).
PNL_KEPT = 1000
#: Heartbeat intervals without a beat after which a node is MISSING.
MISSING_AFTER = 3

_STREAMS = ("opportunity", "execution", "alert", "crosschain")


def _state_name(value: int) -> str:
    try:
        return NodeState(value).name
    except ValueError:
        return str(value)


class DashboardState:
    """Nodes, the stop, rings, prices, the four event streams, processes and the P&L series.

    Parameters
    ----------
    namespace, run_dir_name : str
        Named in ``hello``.
    declared : iterable of str
        Node names of the mesh configuration (shown as MISSING until they beat).
    """

    def __init__(self, namespace: str, run_dir_name: str, declared: tuple[str, ...] = (),
                 kept: int = STREAM_KEPT) -> None:
        self.namespace = namespace
        self.run_dir_name = run_dir_name
        self.nodes: dict[str, dict[str, Any]] = {
            n: {"name": n, "state": "MISSING", "seen_ns": None, "seq": None, "pid": None,
                "interval_ms": 0} for n in declared}
        self.stop_msg: dict[str, Any] = m.stop(None)
        self._stop_owner: str | None = None
        self.rings: list[dict[str, Any]] = []
        self.prices: list[dict[str, Any]] = []
        self.streams: dict[str, collections.deque[dict[str, Any]]] = {
            k: collections.deque(maxlen=kept) for k in _STREAMS}
        self.programs: dict[str, dict[str, Any]] = {}
        self.pnl: collections.deque[list[float]] = collections.deque(maxlen=PNL_KEPT)
        self.pnl_total_q8 = 0
        self.counts: collections.Counter[str] = collections.Counter()

    # -- events -> deltas ----------------------------------------------------------------------

    def apply(self, kind: str, payload: Any) -> list[dict[str, Any]]:
        """Fold one reader event in; return the messages to send every client now.

        Nodes are not sent here (see :meth:`nodes_msg`, sent at most twice a second).
        """
        self.counts[kind] += 1
        if kind == "heartbeat":
            return self._beat(*payload)
        if kind == "stop":
            return self._stop(*payload)
        if kind in self.streams:
            self.streams[kind].append(payload)
            out = [payload]
            if kind == "execution":
                out.append(self._pnl(payload))
            return out
        if kind == "process":
            self.programs[payload["program"]] = payload
            return [self.process_msg()]
        if kind == "prices":
            self.prices = payload
            return [{"type": "prices", "pools": payload}]
        if kind == "rings":
            self.rings = payload
            return [{"type": "rings", "rings": payload}]
        return []

    def _beat(self, publisher: str, seq: int, hb: Heartbeat,
              stop: EmergencyStop | None) -> list[dict[str, Any]]:
        name = hb.node or publisher
        self.nodes[name] = {"name": name, "state": _state_name(hb.state),
                            "seen_ns": time.time_ns(), "seq": seq, "pid": hb.pid or None,
                            "interval_ms": hb.interval_ms}
        if stop is not None and stop.latched:
            return self._stop(publisher, stop)
        if not hb.stop_latched and self._stop_owner == publisher:
            return self._stop(publisher, EmergencyStop(latched=0))
        return []

    def _stop(self, publisher: str, stop: EmergencyStop) -> list[dict[str, Any]]:
        msg = m.stop(stop)
        if stop.latched:
            self._stop_owner = publisher
        elif self._stop_owner not in (None, publisher):
            return []  # a release from someone else than the stop's owner
        else:
            self._stop_owner = None
        if msg == self.stop_msg:
            return []
        self.stop_msg = msg
        return [msg]

    def _pnl(self, execution: dict[str, Any]) -> dict[str, Any]:
        self.pnl_total_q8 += int(execution["realized_usd_q8"])
        point = [execution["ts_ns"] // 1_000_000, m.usd(self.pnl_total_q8)]
        self.pnl.append(point)
        return {"type": "pnl", "points": [point], "total_usd_q8": str(self.pnl_total_q8)}

    # -- coalesced and whole messages ------------------------------------------------------

    def nodes_msg(self, now_ns: int | None = None) -> dict[str, Any]:
        """``{"type": "nodes"}``: every node with its age; MISSING after 3 silent intervals."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        rows = []
        for n in sorted(self.nodes.values(), key=lambda r: r["name"]):
            seen = n["seen_ns"]
            age_ms = None if seen is None else max(0, (now_ns - seen) // 1_000_000)
            state = n["state"]
            if age_ms is None or age_ms > MISSING_AFTER * max(n["interval_ms"], 1):
                state = "MISSING"
            rows.append({"name": n["name"], "state": state, "age_ms": age_ms, "seq": n["seq"],
                         "pid": n["pid"]})
        return {"type": "nodes", "nodes": rows}

    def process_msg(self) -> dict[str, Any]:
        """``{"type": "process"}``: every program's last state."""
        return {"type": "process", "programs": sorted(self.programs.values(),
                                                      key=lambda r: r["program"])}

    def hello(self) -> dict[str, Any]:
        """The first message to a client."""
        return {"type": "hello", "version": VERSION, "namespace": self.namespace,
                "run_dir_name": self.run_dir_name, "now_ns": time.time_ns()}

    def snapshot_messages(self) -> list[dict[str, Any]]:
        """What a new client gets first: hello, then the state of everything, then history."""
        out = [self.hello(), self.nodes_msg(), self.stop_msg,
               {"type": "rings", "rings": self.rings}, {"type": "prices", "pools": self.prices},
               self.process_msg(),
               {"type": "pnl", "points": list(self.pnl), "total_usd_q8": str(self.pnl_total_q8)}]
        for kind in _STREAMS:
            out.extend(self.streams[kind])
        return out

    def snapshot(self) -> dict[str, Any]:
        """The snapshot as one object (``GET /api/state``)."""
        return {"hello": self.hello(), "nodes": self.nodes_msg()["nodes"], "stop": self.stop_msg,
                "rings": self.rings, "prices": self.prices,
                "programs": self.process_msg()["programs"], "pnl": list(self.pnl),
                "pnl_total_usd_q8": str(self.pnl_total_q8),
                "opportunities": list(self.streams["opportunity"]),
                "executions": list(self.streams["execution"]),
                "alerts": list(self.streams["alert"]),
                "crosschain": list(self.streams["crosschain"])}
