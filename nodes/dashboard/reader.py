"""The dashboard's mesh side: an ad hoc reader of ZeroMQ and the rings, on threads of its own.

Not a node (no heartbeat, no contract): like ``alphapulse tap`` it connects a SUB to every
publisher of the mesh configuration, filtered to the types the page shows, and attaches one
broadcast reader per market-data ring, which never slows a writer (a reader that falls behind
loses frames, counted). Two daemon threads, so neither a recovery wait nor a ring drain holds
the other or the web server up:

* ``dashboard-zmq``: heartbeats, stops, opportunities, executions, alerts, process events and
  cross-chain signals, converted (:mod:`nodes.dashboard.messages`) on this thread;
* ``dashboard-rings``: pool prices (coalesced per pool) and each ring's fill and losses, handed
  over at most twice and once a second.

Both hand events to an :class:`Inbox`, which never blocks them: past its bound it drops and
counts (the web side is then behind; the mesh is never slowed).
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import zmq

from alphapulse.errors import AlphaPulseError
from mesh.config import MeshConfig
from mesh.protocol import (
    ArbitrageOpportunity,
    CrossChainArbitrageSignal,
    EmergencyStop,
    ExecutionDetail,
    ExecutionResult,
    Heartbeat,
    Message,
    ProcessEvent,
    RiskAlert,
    decode_frame,
)
from mesh.pubsub import Delivery, Subscriber
from mesh.topics import prefix
from nodes.dashboard import messages as m
from nodes.dashboard.prices import PriceBook

#: Types the dashboard subscribes to (first TLV of a frame).
SUBSCRIBED: tuple[type[Message], ...] = (Heartbeat, EmergencyStop, ProcessEvent, ArbitrageOpportunity,
                                ExecutionResult, RiskAlert, CrossChainArbitrageSignal)
#: Opportunities remembered for their executions' predicted USD.
PREDICTED_KEPT = 4096
#: Events the inbox holds before it drops.
INBOX_MAX = 20_000
#: Seconds between price hand-overs and ring table hand-overs.
PRICE_PERIOD = 0.5
RING_PERIOD = 1.0

Event = tuple[str, Any]


class Inbox:
    """Events from the reader threads to the web loop; ``put`` never blocks.

    ``wake`` is called (from the putting thread) when the inbox turns non-empty; the web side
    passes ``loop.call_soon_threadsafe`` of its drain there.
    """

    def __init__(self, wake: Callable[[], None], limit: int = INBOX_MAX) -> None:
        self._q: collections.deque[Event] = collections.deque()
        self._lock = threading.Lock()
        self._wake = wake
        self.limit = limit
        self.dropped = 0
        self.put_total = 0

    def put(self, event: Event) -> None:
        """Queue one event, or drop and count it when the web side is that far behind."""
        with self._lock:
            if len(self._q) >= self.limit:
                self.dropped += 1
                return
            self._q.append(event)
            self.put_total += 1
            first = len(self._q) == 1
        if first:
            self._wake()

    def take(self, budget: int = 2000) -> list[Event]:
        """Up to ``budget`` queued events, oldest first."""
        with self._lock:
            n = min(budget, len(self._q))
            return [self._q.popleft() for _ in range(n)]

    def __len__(self) -> int:
        return len(self._q)


def token_symbols(devnet_dir: str | None) -> dict[str, str]:
    """Lowercase token address -> symbol from the devnet manifest, if there is one."""
    if not devnet_dir:
        return {}
    try:
        manifest = orjson.loads((Path(devnet_dir) / "manifest.json").read_bytes())
        return {str(t["address"]).lower(): str(sym)
                for sym, t in manifest.get("tokens", {}).items()}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}


class MeshReader:
    """The two reader threads; :meth:`start`, then :meth:`close`.

    ``errors`` counts what could not be read, by kind (malformed ring frames, ring attach
    errors); the subscriber's own counters are :attr:`stats`.
    """

    def __init__(self, cfg: MeshConfig, inbox: Inbox, *, ring_namespaces: tuple[str, ...] = (),
                 symbols: dict[str, str] | None = None) -> None:
        self.cfg = cfg
        self.inbox = inbox
        self.namespaces = (cfg.ring_namespace, *[n for n in ring_namespaces
                                                 if n != cfg.ring_namespace])
        self.prices = PriceBook(symbols if symbols is not None
                                else token_symbols(os.environ.get("ALPHAPULSE_DEVNET_DIR")))
        self.errors: collections.Counter[str] = collections.Counter()
        self.ring_frames = 0
        self.ring_lost = 0
        self._halt = threading.Event()
        self._ctx: zmq.Context[Any] = zmq.Context()
        secure = None
        if cfg.curve:
            from mesh.security import Security
            secure = Security(cfg, "operator").client
        self.sub = Subscriber(self._ctx, cfg, list(cfg.nodes),
                              [prefix(int(t.DOMAIN), int(t.TLV_TYPE)) for t in SUBSCRIBED],
                              secure=secure)
        self.stats = self.sub.stats
        self._predicted: collections.OrderedDict[int, tuple[int, int]] = \
            collections.OrderedDict()
        self.failure: BaseException | None = None
        #: supervisord event serials already alerted on (the listener repeats its events)
        self._alerted: set[int] = set()
        self._threads = [threading.Thread(target=self._guard, args=(f,), daemon=True,
                                          name=f"dashboard-{n}")
                         for n, f in (("zmq", self._receive), ("rings", self._read_rings))]

    def start(self) -> None:
        """Start both threads."""
        for t in self._threads:
            t.start()

    def alive(self) -> bool:
        """True while both threads run."""
        return all(t.is_alive() for t in self._threads)

    def close(self) -> None:
        """Stop the threads, close the socket and the readers."""
        self._halt.set()
        for t in self._threads:
            if t.is_alive():
                t.join(5)
        self.sub.close()
        self._ctx.term()

    def _guard(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 -- reported by the web side (/api/state)
            self.failure = exc
            self.errors["reader_died"] += 1

    # -- ZeroMQ ------------------------------------------------------------------------------

    def _receive(self) -> None:
        while not self._halt.is_set():
            d = self.sub.recv(200)
            if d is not None:
                self._deliver(d)

    def _deliver(self, d: Delivery) -> None:
        try:
            tlvs = d.frame.tlvs
        except AlphaPulseError as exc:
            self.errors[exc.kind] += 1
            return
        if not tlvs:
            return
        first, now = tlvs[0], time.time_ns()
        put = self.inbox.put
        if isinstance(first, Heartbeat):
            stop = next((t for t in tlvs if isinstance(t, EmergencyStop)), None)
            put(("heartbeat", (d.topic.publisher, d.header.sequence, first, stop)))
        elif isinstance(first, EmergencyStop):
            put(("stop", (d.topic.publisher, first)))
        elif isinstance(first, ArbitrageOpportunity):
            self._predicted[first.opportunity_id] = (first.expected_profit,
                                                     first.net_profit_usd_q8)
            while len(self._predicted) > PREDICTED_KEPT:
                self._predicted.popitem(last=False)
            put(("opportunity", m.opportunity(first, d.header.timestamp_ns or now)))
        elif isinstance(first, ExecutionResult):
            detail = next((t for t in tlvs if isinstance(t, ExecutionDetail)), None)
            put(("execution", m.execution(first, detail,
                                          self._predicted.get(first.opportunity_id),
                                          d.header.timestamp_ns or now)))
        elif isinstance(first, RiskAlert):
            put(("alert", m.alert(first, d.header.timestamp_ns or now)))
        elif isinstance(first, CrossChainArbitrageSignal):
            put(("crosschain", m.crosschain(first, d.header.timestamp_ns or now)))
        elif isinstance(first, ProcessEvent):
            for ev in tlvs:  # process-events repeats its table as several ProcessEvents a frame
                if isinstance(ev, ProcessEvent):
                    put(("process", m.process_row(ev)))
                    bad = m.process_alert(ev) if ev.serial not in self._alerted else None
                    if bad is not None:  # once per supervisord event, not per repetition
                        self._alerted.add(ev.serial)
                        put(("alert", bad))
                        while len(self._alerted) > PREDICTED_KEPT:
                            self._alerted.pop()

    # -- rings -------------------------------------------------------------------------------

    def _read_rings(self) -> None:
        from mesh.rings import DomainReaders  # numba: imported on this thread, off the loop

        sets = [DomainReaders(ns, "market-data", start="latest", on_error=self._ring_error)
                for ns in self.namespaces]
        next_discovery = next_prices = next_rings = 0.0
        try:
            while not self._halt.is_set():
                now = time.monotonic()
                if now >= next_discovery:
                    for s in sets:
                        s.discover(self._on_batch)
                    next_discovery = now + 0.2
                if now >= next_prices:
                    rows = self.prices.take()
                    if rows is not None:
                        self.inbox.put(("prices", rows))
                    next_prices = now + PRICE_PERIOD
                if now >= next_rings:
                    self.inbox.put(("rings", self._ring_rows(sets)))
                    next_rings = now + RING_PERIOD
                if not sum(s.drain(self._on_batch) for s in sets):
                    self._halt.wait(0.005)
        finally:
            for s in sets:
                s.close()

    def _ring_error(self, exc: AlphaPulseError) -> None:
        self.errors[f"ring_{exc.kind}"] += 1

    def _on_batch(self, batch: Any) -> None:
        ring = batch.ring
        writer = ring.writer if ring.namespace == self.cfg.ring_namespace else \
            f"{ring.namespace}/{ring.writer}"
        self.ring_lost += batch.lost
        self.ring_frames += batch.count
        apply = self.prices.apply
        for raw in batch:
            try:
                frame = decode_frame(raw, verify_checksum=False)
            except AlphaPulseError as exc:
                self.errors[exc.kind] += 1
                continue
            for tlv in frame.tlvs:
                apply(writer, tlv)

    def _ring_rows(self, sets: list[Any]) -> list[dict[str, Any]]:
        from shm.inspect import ring_info
        from shm.segment import list_ring_names

        ours = {c.ring: c for s in sets for c in s.counters()}
        rows = []
        for ns in self.namespaces:
            for name in list_ring_names(ns):
                try:
                    info = ring_info(name)
                except (AlphaPulseError, OSError):
                    continue
                mine = ours.get(str(name))
                rows.append({
                    "name": str(name), "namespace": ns, "domain": info.domain,
                    "writer": info.writer, "writer_alive": info.writer_alive,
                    "capacity": info.capacity, "fill_pct": round(100 * info.fill, 2),
                    "written": str(info.frames_written),
                    "lost": str(sum(r.frames_lost for r in info.readers)),
                    "readers": len(info.readers),
                    "dashboard_lost": str(mine.frames_lost) if mine else "0",
                })
        return rows
