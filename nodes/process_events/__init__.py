"""The process-events node: supervisord's PROCESS_STATE events into the mesh and Prometheus.

supervisord runs it as ``[eventlistener:process-events]`` (``events=PROCESS_STATE``). A reader
thread speaks the event listener protocol on stdin/stdout (:mod:`.listener`): it acknowledges
each event as soon as it has read it and hands the parsed change to the loop thread through a
bounded queue (a full queue drops the change and counts ``event_queue_full``), so supervisord
never waits on the mesh. The loop thread folds each change into the program table
(:mod:`.table`), publishes it as a ``ProcessEvent`` on the system domain, and repeats the table
(the latest ``ProcessEvent`` of every program) once per heartbeat interval, so that subscribers
that join late (``alphapulse status``) see every program at once. Metrics: :mod:`.metrics`.

Malformed input is acknowledged, counted (``malformed_event``) and skipped. The node ends when
supervisord closes its stdin, and, like every node, when its parent dies. Its stdout carries
the protocol only: at start the node moves its own fd 1 onto stderr, so a stray print cannot
corrupt it.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time

from mesh.protocol import ProcessEvent
from mesh.protocol.constants import SourceType
from nodes.process_events.listener import (
    ChannelClosed,
    ListenerChannel,
    MalformedEvent,
    StateChange,
    parse_state_change,
)
from nodes.process_events.metrics import ProcessCollector
from nodes.process_events.table import ProgramTable
from nodes.runtime import ConfigKey, Contract, Node

#: ProcessEvent TLVs per frame when the table is repeated.
TABLE_CHUNK = 32
_DRAIN = 256


class EventReader(threading.Thread):
    """The protocol loop on its own daemon thread; the loop thread reads its counters."""

    def __init__(self, channel: ListenerChannel, changes: queue.Queue[tuple[int, StateChange]]):
        super().__init__(name="supervisor-events", daemon=True)
        self.channel = channel
        self.changes = changes
        self.malformed = 0
        self.dropped = 0
        self.closed = threading.Event()

    def run(self) -> None:
        """READY, read, acknowledge, parse, queue; until supervisord closes the channel."""
        try:
            while True:
                self.channel.ready()
                try:
                    header, payload = self.channel.read()
                except MalformedEvent:
                    self.malformed += 1
                    self.channel.acknowledge()
                    continue
                self.channel.acknowledge()
                try:
                    change = parse_state_change(header, payload)
                except MalformedEvent:
                    self.malformed += 1
                    continue
                if change is None:
                    continue
                try:
                    self.changes.put_nowait((time.time_ns(), change))
                except queue.Full:
                    self.dropped += 1
        except ChannelClosed:
            pass
        finally:
            self.closed.set()


def protocol_fds() -> tuple[int, int]:
    """Our stdin, and a private copy of our stdout; fd 1 itself then points at stderr."""
    sys.stdout.flush()
    out = os.dup(1)
    os.dup2(2, 1)
    return 0, out


class ProcessEventsNode(Node):
    """Publish every supervised program's state change; export them as metrics."""

    CONTRACT = Contract(
        kind="process-events",
        role="supervisord's event listener: every program's state change as a ProcessEvent on "
             "the system domain and as Prometheus counters (crashes, restarts, FATAL).",
        source=SourceType.METRICS_COLLECTOR,
        produces=(ProcessEvent,),
        config={"queue_size": ConfigKey(4096, "changes waiting for the loop thread at most")},
    )

    def on_start(self) -> None:
        """Start the reader on stdin/stdout; register the metrics."""
        self.table = ProgramTable()
        self.changes: queue.Queue[tuple[int, StateChange]] = queue.Queue(
            max(1, int(self.rt.settings["queue_size"])))
        self.folded = {"malformed_event": 0, "event_queue_full": 0}
        self.table_every_ns = self.rt.cfg.heartbeat_ms * 1_000_000
        self.next_table_ns = 0
        if self.rt.metrics is not None:
            self.rt.metrics.registry.register(ProcessCollector(self.table.snapshot))
        self.reader = EventReader(ListenerChannel(*protocol_fds()), self.changes)
        self.reader.start()

    def on_tick(self, now_ns: int) -> int:
        """Publish queued changes; repeat the table when due; stop once the channel closed."""
        work = 0
        for _ in range(_DRAIN):
            try:
                received_ns, change = self.changes.get_nowait()
            except queue.Empty:
                break
            event = self.table.apply(change, received_ns)
            self.rt.publish(event)
            self.rt.log.info("%s %s -> %s (pid %d, %d times)", change.program,
                             change.from_state.name, change.state.name, change.pid, event.count)
            work += 1
        self._fold("malformed_event", self.reader.malformed)
        self._fold("event_queue_full", self.reader.dropped)
        if now_ns >= self.next_table_ns:
            self.next_table_ns = now_ns + self.table_every_ns
            latest = self.table.latest()
            for i in range(0, len(latest), TABLE_CHUNK):
                self.rt.publish(latest[i:i + TABLE_CHUNK])
        if self.reader.closed.is_set() and self.changes.empty():
            self.rt.request_stop()
        return work

    def _fold(self, kind: str, total: int) -> None:
        while self.folded[kind] < total:
            self.folded[kind] += 1
            self.rt.stats.error(kind)


__all__ = ["EventReader", "ProcessEventsNode", "protocol_fds"]
